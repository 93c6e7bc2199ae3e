-- Grain: one row over the registered relation goal_drop_rows (goal_drops.sql: one row per drop).
-- Definition: n_drops = NEW_DROPs; n_matched = drops matching >= 1 goal; match_rate = n_matched /
-- n_drops; n_matched_alerted = matched drops with >= 1 alert; n_alerts_matched = alerts for matched
-- drops, n_booked_matched = those reaching booking_confirmed (funnel windows), conversion_matched =
-- n_booked_matched / n_alerts_matched; the same for alerts of unmatched drops (for comparison).
-- n = n_drops; thin = n_alerts_matched < $min_sample.
SELECT count(*) AS n_drops,
       count(*) FILTER (WHERE matched) AS n_matched,
       CASE WHEN count(*) > 0 THEN count(*) FILTER (WHERE matched) / count(*) END AS match_rate,
       count(*) FILTER (WHERE matched AND n_alerts > 0) AS n_matched_alerted,
       CAST(coalesce(sum(n_alerts) FILTER (WHERE matched), 0) AS BIGINT) AS n_alerts_matched,
       CAST(coalesce(sum(n_booked) FILTER (WHERE matched), 0) AS BIGINT) AS n_booked_matched,
       CASE WHEN coalesce(sum(n_alerts) FILTER (WHERE matched), 0) > 0
            THEN sum(n_booked) FILTER (WHERE matched) / sum(n_alerts) FILTER (WHERE matched) END
           AS conversion_matched,
       CAST(coalesce(sum(n_alerts) FILTER (WHERE NOT matched), 0) AS BIGINT) AS n_alerts_unmatched,
       CAST(coalesce(sum(n_booked) FILTER (WHERE NOT matched), 0) AS BIGINT) AS n_booked_unmatched,
       CASE WHEN coalesce(sum(n_alerts) FILTER (WHERE NOT matched), 0) > 0
            THEN sum(n_booked) FILTER (WHERE NOT matched) / sum(n_alerts) FILTER (WHERE NOT matched) END
           AS conversion_unmatched,
       count(*) AS n,
       coalesce(sum(n_alerts) FILTER (WHERE matched), 0) < $min_sample AS thin
FROM goal_drop_rows;
