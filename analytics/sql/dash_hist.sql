-- dash_hist: one row per (group, log-spaced duration bin) of the market's merged time-to-close
-- histogram (market_daily_hist, ~10^4 rows per day) under the filters: n_closed at their point
-- duration, n_censored at their known-open time, split by the bounds' bins (lo_bin, hi_bin:
-- measure_time_to_close); lo_s/hi_s from duration_bins. grp follows $split:
-- 'time_bucket' | 'party_size' | 'neighborhood' | 'price_range' | 'none' (a CASE on a parameter,
-- not an identifier). One venue's histogram is dash_venue_hist (venue_daily_hist).
-- Shared filters (NULL = all): metric_date (market-local day the transition was observed) in
-- [$d0, $d1]; $hoods (neighborhood names, '(unknown)' for none); $prices (price_range 1-4);
-- $time_bucket ('prime' | 'off_peak'); $parties (party sizes); $dows (ISO weekday 1=Mon..7=Sun of
-- metric_date). Reads the nightly aggregates, never raw events.
SELECT CASE $split
           WHEN 'time_bucket'  THEN h.time_bucket
           WHEN 'party_size'   THEN h.party_size::VARCHAR
           WHEN 'neighborhood' THEN h.neighborhood
           WHEN 'price_range'  THEN coalesce(repeat('$', h.price_range), '(unknown)')
           ELSE 'all' END AS grp,
       h.bin, h.lo_bin, h.hi_bin, any_value(b.lo_s) AS lo_s, any_value(b.hi_s) AS hi_s,
       sum(h.n_closed)::BIGINT AS n_closed, sum(h.n_censored)::BIGINT AS n_censored
FROM market_daily_hist h
JOIN duration_bins b ON b.bin = h.bin
WHERE h.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, h.neighborhood))
      AND ($prices IS NULL OR list_contains($prices, h.price_range))
      AND ($time_bucket IS NULL OR h.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, h.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(h.metric_date)))
GROUP BY ALL
ORDER BY grp, h.bin, h.lo_bin, h.hi_bin;
