-- dash_market_rolling: market_rolling rows with as_of in [$d0, $d1] (window 7 and 14 days, time
-- buckets prime / off_peak / all): volatility index, forward density, compression vs a week earlier.
SELECT * FROM market_rolling
WHERE as_of BETWEEN $d0 AND $d1
ORDER BY as_of, window_days, time_bucket;
