-- market_daily: grain = day x local hour x neighborhood x price range x time bucket x party size,
-- for the days [<d0>, <d1>): NEW_DROPs by the local hour they were first seen (opened_hi), with
-- release / cancellation drops and the distinct venues behind them. A venue without a
-- neighborhood reads '(unknown)', without a price range 0. Input: daily_inputs.sql.

DELETE FROM market_daily WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO market_daily BY NAME
SELECT d.metric_date, d.weekday, i.hour_local, coalesce(v.neighborhood, '(unknown)') AS neighborhood,
       coalesce(v.price_range, 0) AS price_range,
       CASE WHEN i.is_prime THEN 'prime' ELSE 'off_peak' END AS time_bucket, i.party_size,
       count(*) AS drops, count(*) FILTER (WHERE i.is_release) AS release_drops,
       count(*) FILTER (WHERE NOT i.is_release) AS cancel_drops,
       count(DISTINCT i.venue_id) AS venues, any_value(q.partial) AS partial
FROM daily_intervals i
JOIN daily_days d ON i.opened_hi >= d.day_start AND i.opened_hi < d.day_end
JOIN day_quality q ON q.metric_date = d.metric_date
LEFT JOIN venues v ON v.provider = i.provider AND v.venue_id = i.venue_id
WHERE i.is_drop
GROUP BY d.metric_date, d.weekday, i.hour_local, neighborhood, price_range, time_bucket, i.party_size;
