-- Grain: one row per funnel step (alert_sent, alert_opened, tap_to_reserve, booking_confirmed)
-- over the registered per-alert relation funnel_alert_rows (see funnel_alerts.sql).
-- Definition: n = alerts that reached the step (ordered, within the windows); n_prev = n of the
-- step before; conversion_from_prev = n / n_prev; conversion_from_sent = n / alerts sent;
-- drop_off = n_prev - n; drop_off_share = drop_off / n_prev. NULL ratios when the base is 0.
WITH s AS (
    SELECT 1 AS step_index, 'alert_sent' AS step, count(*) AS n FROM funnel_alert_rows
    UNION ALL SELECT 2, 'alert_opened', count(opened_at) FROM funnel_alert_rows
    UNION ALL SELECT 3, 'tap_to_reserve', count(tapped_at) FROM funnel_alert_rows
    UNION ALL SELECT 4, 'booking_confirmed', count(booked_at) FROM funnel_alert_rows
),
w AS (
    SELECT step_index, step, n,
           lag(n) OVER (ORDER BY step_index) AS n_prev,
           first_value(n) OVER (ORDER BY step_index) AS n_sent
    FROM s
)
SELECT step_index, step, n, n_prev,
       CASE WHEN n_prev > 0 THEN n / n_prev END AS conversion_from_prev,
       CASE WHEN n_sent > 0 THEN n / n_sent END AS conversion_from_sent,
       n_prev - n AS drop_off,
       CASE WHEN n_prev > 0 THEN (n_prev - n) / n_prev END AS drop_off_share
FROM w
ORDER BY step_index;
