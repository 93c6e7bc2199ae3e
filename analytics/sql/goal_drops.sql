-- Grain: one row per NEW_DROP interval (source = 'drop', finished in slot_intervals or still open in
-- open_slots) first seen (opened_hi) in [$start, $end).
-- Definition: a drop matches a goal when slot_date is in [date_from, date_to], slot_time in
-- [time_from, time_to], party_size equals the goal's, the venue is in venue_ids (empty = any) and the
-- venue's neighborhood is in neighborhoods (empty = any). Goals match regardless of when they were
-- registered (a goal describes a window of slots, not a time of watching).
-- n_goals / n_users = matching goals / their distinct users; matched = n_goals > 0.
-- Alerts come from the registered relation funnel_alert_rows (analytics.funnels, one row per alert)
-- joined on interval_id: n_alerts sent for the drop, n_booked of them that reached booking_confirmed.
WITH drops AS (
    SELECT interval_id, venue_id, slot_date, slot_time, party_size, opened_hi
    FROM slot_intervals
    WHERE source = 'drop' AND opened_hi >= $start AND opened_hi < $end
    UNION ALL
    SELECT interval_id, venue_id, slot_date, slot_time, party_size, opened_hi
    FROM open_slots
    WHERE source = 'drop' AND opened_hi >= $start AND opened_hi < $end
),
venue_nb AS (
    SELECT venue_id, any_value(neighborhood) AS neighborhood FROM venues GROUP BY venue_id
),
m AS (
    SELECT d.interval_id, count(DISTINCT g.goal_id) AS n_goals, count(DISTINCT g.user_id) AS n_users
    FROM drops d
    LEFT JOIN venue_nb v USING (venue_id)
    JOIN goals g
      ON d.slot_date BETWEEN g.date_from AND g.date_to
     AND d.slot_time BETWEEN g.time_from AND g.time_to
     AND d.party_size = g.party_size
     AND (len(g.venue_ids) = 0 OR list_contains(g.venue_ids, d.venue_id))
     AND (len(g.neighborhoods) = 0 OR list_contains(g.neighborhoods, v.neighborhood))
    GROUP BY d.interval_id
),
al AS (
    SELECT interval_id, count(*) AS n_alerts, count(booked_at) AS n_booked
    FROM funnel_alert_rows
    WHERE interval_id IS NOT NULL
    GROUP BY interval_id
)
SELECT d.interval_id, d.venue_id, d.slot_date, d.slot_time, d.party_size, d.opened_hi,
       coalesce(m.n_goals, 0) AS n_goals, coalesce(m.n_users, 0) AS n_users,
       coalesce(m.n_goals, 0) > 0 AS matched,
       coalesce(al.n_alerts, 0) AS n_alerts, coalesce(al.n_booked, 0) AS n_booked
FROM drops d
LEFT JOIN m USING (interval_id)
LEFT JOIN al USING (interval_id)
ORDER BY d.opened_hi, d.interval_id;
