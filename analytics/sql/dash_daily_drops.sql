-- dash_daily_drops: one row per venue-local day in [$d0, $d1] with its market-wide NEW_DROP count.
-- Days the nightly job has aggregated come from market_daily (0 when none) with day_quality's
-- partial flag (src 'aggregate'); later days, from $raw_from on (the day after the last aggregated
-- one; NULL = none needed), are counted from the raw events (src 'raw', partial NULL: still open).
-- Both count the same thing: a NEW_DROP's day is the local day of the poll that first saw it.
SELECT dq.metric_date AS day, coalesce(sum(md.drops), 0)::BIGINT AS drops, dq.partial, 'aggregate' AS src
FROM day_quality dq
LEFT JOIN market_daily md ON md.metric_date = dq.metric_date
WHERE dq.metric_date BETWEEN $d0 AND $d1
GROUP BY dq.metric_date, dq.partial
UNION ALL
SELECT observed_local::DATE AS day, count(*)::BIGINT AS drops, NULL::BOOLEAN AS partial, 'raw' AS src
FROM availability_events
WHERE $raw_from IS NOT NULL
  AND event_type = 'NEW_DROP'
  AND observed_local >= $raw_from::TIMESTAMP
  AND observed_local <  ($d1::DATE + INTERVAL 1 DAY)::TIMESTAMP
GROUP BY 1
ORDER BY day;
