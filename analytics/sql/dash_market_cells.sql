-- dash_market_cells: market_daily rolled up to one row per (metric_date, weekday, hour_local,
-- neighborhood, time_bucket) under the filters (no venue filter: market_daily has no venue).
-- The pages group this small frame further (by hour, weekday x time bucket, neighborhood, day).
-- Shared filters as in the other dash_* aggregate queries; price_range 0 = unknown.
SELECT md.metric_date AS day, md.weekday, md.hour_local, md.neighborhood, md.time_bucket,
       sum(md.drops)::BIGINT AS drops, sum(md.release_drops)::BIGINT AS release_drops,
       sum(md.cancel_drops)::BIGINT AS cancel_drops, bool_or(md.partial) AS partial
FROM market_daily md
WHERE md.metric_date BETWEEN $d0 AND $d1
  AND ($hoods IS NULL OR list_contains($hoods, md.neighborhood))
  AND ($prices IS NULL OR list_contains($prices, md.price_range))
  AND ($time_bucket IS NULL OR md.time_bucket = $time_bucket)
  AND ($parties IS NULL OR list_contains($parties, md.party_size))
  AND ($dows IS NULL OR list_contains($dows, md.weekday))
GROUP BY ALL
ORDER BY day, md.hour_local, md.neighborhood, md.time_bucket;
