-- supply_daily: grain = day x (bucket, party size) with a trusted poll before its guard that day,
-- for the days [<d0>, <d1>): the inventory at the day's last such poll (snapshot_at).
--   open_slots      intervals open at snapshot_at (first seen at or before it, last seen at or after)
--   open_venues     venues with >= 1 of them
--   baseline_slots  slots in the bucket's baseline (calibration polls): ended ones last seen at most
--                   15 days before the range, plus still-open ones
--   lead_days       bucket_date - metric_date; partial from day_quality. Input: daily_inputs.sql.

DELETE FROM supply_daily WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO supply_daily BY NAME
WITH snapshot AS (
    SELECT metric_date, bucket_id, party_size, any_value(is_prime) AS is_prime, max(started_at) AS snapshot_at
    FROM daily_gaps GROUP BY metric_date, bucket_id, party_size
), open_at AS (
    SELECT s.metric_date, s.bucket_id, s.party_size, count(*) AS open_slots,
           count(DISTINCT (i.provider, i.venue_id, i.is_prime)) AS open_venues
    FROM snapshot s JOIN daily_intervals i
      ON i.bucket_id = s.bucket_id AND i.party_size = s.party_size
     AND i.opened_hi <= s.snapshot_at AND i.last_seen >= s.snapshot_at
    GROUP BY ALL
), baseline AS (
    SELECT bucket_id, party_size, count(*) AS baseline_slots FROM (
        SELECT bucket_id, party_size FROM slot_intervals
        WHERE source = 'baseline' AND closed_lo >= (SELECT min(day_start) FROM daily_days) - INTERVAL 15 DAY
        UNION ALL
        SELECT bucket_id, party_size FROM open_slots WHERE source = 'baseline')
    WHERE bucket_id IN (SELECT bucket_id FROM daily_polls)
    GROUP BY ALL
)
SELECT s.metric_date, s.bucket_id, s.party_size, CAST(left(s.bucket_id, 10) AS DATE) AS bucket_date,
       CASE WHEN s.is_prime THEN 'prime' ELSE 'off_peak' END AS time_bucket,
       CAST(CAST(left(s.bucket_id, 10) AS DATE) - s.metric_date AS SMALLINT) AS lead_days, s.snapshot_at,
       coalesce(o.open_slots, 0) AS open_slots, coalesce(o.open_venues, 0) AS open_venues,
       coalesce(b.baseline_slots, 0) AS baseline_slots, q.partial
FROM snapshot s
JOIN day_quality q ON q.metric_date = s.metric_date
LEFT JOIN open_at o ON o.metric_date = s.metric_date AND o.bucket_id = s.bucket_id AND o.party_size = s.party_size
LEFT JOIN baseline b ON b.bucket_id = s.bucket_id AND b.party_size = s.party_size;
