-- Grain: one row per alert of the registered relation funnel_alert_rows (analytics.funnels).
-- Definition: the venue's scarcity_score (0-100, venue_rolling: window_days 14, time_bucket 'all',
-- non-NULL score) as of the last as_of on or before the alert's sent date (no look-ahead); when the
-- venue has no such row yet, its earliest row. scarcity_decile = least(10, floor(score / 10) + 1):
-- 1 = easiest tenth of the 0-100 scale, 10 = scarcest.
WITH vr AS (
    SELECT venue_id, as_of, scarcity_score
    FROM venue_rolling
    WHERE window_days = 14 AND time_bucket = 'all' AND scarcity_score IS NOT NULL
),
at_sent AS (
    SELECT a.alert_id, vr.scarcity_score
    FROM funnel_alert_rows a
    ASOF LEFT JOIN vr ON a.venue_id = vr.venue_id AND CAST(a.sent_at AS DATE) >= vr.as_of
),
earliest AS (
    SELECT venue_id, arg_min(scarcity_score, as_of) AS scarcity_score
    FROM vr
    GROUP BY venue_id
)
SELECT a.alert_id,
       coalesce(x.scarcity_score, e.scarcity_score) AS scarcity_score,
       CASE WHEN coalesce(x.scarcity_score, e.scarcity_score) IS NOT NULL
            THEN least(10, floor(coalesce(x.scarcity_score, e.scarcity_score) / 10) + 1)::INTEGER END
           AS scarcity_decile
FROM funnel_alert_rows a
LEFT JOIN at_sent x USING (alert_id)
LEFT JOIN earliest e USING (venue_id);
