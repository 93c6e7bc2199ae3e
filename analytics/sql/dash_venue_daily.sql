-- dash_venue_daily: one row per (metric_date, group) summed from venue_daily under the filters:
-- drops, release vs cancellation drops, timed closes, observed and fully-booked seconds, partial.
-- grp follows $split ('time_bucket' | 'party_size' | 'neighborhood' | 'price_range' | 'none').
-- Shared filters (NULL = all): metric_date (market-local day the transition was observed) in
-- [$d0, $d1]; $hoods (neighborhood names, '(unknown)' for none); $prices (price_range 1-4);
-- $time_bucket ('prime' | 'off_peak'); $parties (party sizes); $dows (ISO weekday 1=Mon..7=Sun of
-- metric_date); $venue_id. Reads the nightly aggregates (0002_metrics), never raw events.
SELECT vd.metric_date AS day,
       CASE $split
           WHEN 'time_bucket'  THEN vd.time_bucket
           WHEN 'party_size'   THEN vd.party_size::VARCHAR
           WHEN 'neighborhood' THEN coalesce(v.neighborhood, '(unknown)')
           WHEN 'price_range'  THEN coalesce(repeat('$', v.price_range), '(unknown)')
           ELSE 'all' END AS grp,
       sum(vd.drops)::BIGINT AS drops,
       sum(vd.drops) FILTER (WHERE vd.time_bucket = 'prime')::BIGINT AS prime_drops,
       sum(vd.release_drops)::BIGINT AS release_drops,
       sum(vd.cancel_drops)::BIGINT AS cancel_drops,
       sum(vd.closed_timed)::BIGINT AS closed_timed,
       sum(vd.sum_close_s) / nullif(sum(vd.closed_timed), 0) AS mean_close_s,
       sum(vd.observed_s) AS observed_s,
       sum(vd.fully_booked_s) AS fully_booked_s,
       bool_or(vd.partial) AS partial
FROM venue_daily vd
LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
WHERE vd.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR vd.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, vd.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(vd.metric_date)))
      AND ($venue_id IS NULL OR vd.venue_id = $venue_id)
GROUP BY ALL
ORDER BY day, grp;
