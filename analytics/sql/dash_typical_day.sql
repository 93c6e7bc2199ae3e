-- dash_typical_day: one row per complete (non-partial) market day in [$d0, $d1] with its total
-- NEW_DROPs from market_daily; the Market pulse's "typical day" is their median.
SELECT md.metric_date AS day, sum(md.drops)::BIGINT AS drops
FROM market_daily md JOIN day_quality dq ON dq.metric_date = md.metric_date
WHERE md.metric_date BETWEEN $d0 AND $d1 AND NOT dq.partial
GROUP BY ALL
ORDER BY day;
