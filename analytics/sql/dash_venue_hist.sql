-- dash_venue_hist: one row per (group, log-spaced duration bin) of ONE venue's merged
-- time-to-close histogram (venue_daily_hist; $venue_id required; the market-wide one is dash_hist)
-- under the filters: n_closed at their point duration, n_censored at their known-open time, split
-- by the bounds' bins (lo_bin, hi_bin: measure_time_to_close);
-- lo_s/hi_s from duration_bins. grp follows $split: 'time_bucket' |
-- 'party_size' | 'neighborhood' | 'price_range' | 'none' (a CASE on a parameter, not an identifier).
-- Shared filters (NULL = all): metric_date (market-local day the transition was observed) in
-- [$d0, $d1]; $hoods (neighborhood names, '(unknown)' for none); $prices (price_range 1-4);
-- $time_bucket ('prime' | 'off_peak'); $parties (party sizes); $dows (ISO weekday 1=Mon..7=Sun of
-- metric_date). Reads the nightly aggregates (0002_metrics), never raw events.
SELECT CASE $split
           WHEN 'time_bucket'  THEN vd.time_bucket
           WHEN 'party_size'   THEN vd.party_size::VARCHAR
           WHEN 'neighborhood' THEN coalesce(v.neighborhood, '(unknown)')
           WHEN 'price_range'  THEN coalesce(repeat('$', v.price_range), '(unknown)')
           ELSE 'all' END AS grp,
       vd.bin, vd.lo_bin, vd.hi_bin, any_value(b.lo_s) AS lo_s, any_value(b.hi_s) AS hi_s,
       sum(vd.n_closed)::BIGINT AS n_closed, sum(vd.n_censored)::BIGINT AS n_censored
FROM venue_daily_hist vd
JOIN duration_bins b ON b.bin = vd.bin
LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
WHERE vd.venue_id = $venue_id AND vd.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR vd.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, vd.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(vd.metric_date)))
GROUP BY ALL
ORDER BY grp, vd.bin, vd.lo_bin, vd.hi_bin;
