-- Grain: one row per span (sent_to_open, sent_to_tap, sent_to_book) over funnel_alert_rows.
-- Definition: seconds from sent_at to the step's time, over the alerts that reached the step;
-- n = those alerts; median_s / p90_s = quantile_cont (linear interpolation) at 0.5 / 0.9;
-- mean_s for reference. NULLs when n = 0.
WITH spans AS (
    SELECT 1 AS span_index, 'sent_to_open' AS span, epoch(opened_at - sent_at) AS s FROM funnel_alert_rows
    UNION ALL SELECT 2, 'sent_to_tap', epoch(tapped_at - sent_at) FROM funnel_alert_rows
    UNION ALL SELECT 3, 'sent_to_book', epoch(booked_at - sent_at) FROM funnel_alert_rows
)
SELECT span_index, span, count(s) AS n,
       quantile_cont(s, 0.5) AS median_s,
       quantile_cont(s, 0.9) AS p90_s,
       avg(s) AS mean_s
FROM spans
GROUP BY span_index, span
ORDER BY span_index;
