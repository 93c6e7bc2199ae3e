-- nightly_open_iv: grain = one interval of temp.nd_iv that overlaps the days of nd_days (open at
-- some instant of [t0, t1)): its venue, (bucket, party size), time bucket and the span it was seen
-- open, a = opened_hi (first poll with it) .. z = closed_lo (last poll with it; for a still-open
-- slot its last sighting). analytics.nightly._build_open merges them into islands and measures
-- open time (see nightly_daily.sql, nd_open).
WITH b AS (SELECT min(t0) AS t0, max(t1) AS t1 FROM nd_days)
SELECT provider, venue_id, bucket_id, party_size, time_bucket, opened_hi AS a, closed_lo AS z
FROM nd_iv, b
WHERE closed_lo >= b.t0 AND opened_hi < b.t1;
