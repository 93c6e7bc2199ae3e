-- market_daily_hist: grain = day x time bucket x party size x neighborhood x price range x
-- duration bin, for the days [<d0>, <d1>): venue_daily_hist summed over the venues of each
-- (neighborhood, price range) as the venues table has them when the day is aggregated, so the
-- market-wide distribution pages read ~10^4 rows a day. Runs after venue_daily_hist.sql.

DELETE FROM market_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO market_daily_hist BY NAME
SELECT h.metric_date, h.time_bucket, h.party_size, coalesce(v.neighborhood, '(unknown)') AS neighborhood,
       v.price_range, h.bin, h.lo_bin, h.hi_bin, sum(h.n_closed) AS n_closed, sum(h.n_censored) AS n_censored, sum(h.sum_s) AS sum_s
FROM venue_daily_hist h
LEFT JOIN venues v ON v.provider = h.provider AND v.venue_id = h.venue_id
WHERE h.metric_date >= $d0 AND h.metric_date < $d1
GROUP BY ALL;
