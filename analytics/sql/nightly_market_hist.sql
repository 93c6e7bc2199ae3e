-- nightly_market_hist: (re)writes market_daily_hist for the local days [$d0, $d1) from
-- venue_daily_hist, which nightly_daily has just written for the same days (same transaction).
-- Grain: metric_date, time_bucket, party_size, neighborhood, price_range, bin; neighborhood and
-- price_range as the venues table has them now ('(unknown)' / NULL when missing), like market_daily.
DELETE FROM market_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO market_daily_hist
SELECT vd.metric_date, vd.time_bucket, vd.party_size, coalesce(v.neighborhood, '(unknown)'), v.price_range, vd.bin,
       sum(vd.n_closed), sum(vd.n_censored), sum(vd.sum_s)
FROM venue_daily_hist vd
LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
WHERE vd.metric_date >= $d0 AND vd.metric_date < $d1
GROUP BY ALL;
