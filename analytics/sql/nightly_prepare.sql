-- nightly_prepare: per-run TEMP working tables shared by the nightly_* inserts (one transaction).
-- Inputs are bounded to the days [<d0>, <d1>) (market-local, <tz>): poll_ledger rows started in the
-- range, slot_intervals with opened_hi < end whose end was recorded (ended_at) at or after start,
-- and open_slots (the current open intervals). Nothing here reads
-- availability_events: every metric is rebuilt from slot_intervals + open_slots + poll_ledger.
--   nd_days : metric_date, weekday, [t0, t1) = the local day as naive UTC instants
--   nd_gaps : (built by analytics.nightly._build_gaps from nightly_polls.sql, after this script)
--             one row per TRUSTED poll of a (bucket, party size) started in the range: the gap to
--             the next trusted poll or to the end of the poll's local day, whichever comes first
--             (next_t = that end), valid = no untrusted poll of the same (bucket, party size)
--             inside, and gap <= <max_gap_s>; cum = running sum of valid gap
--             seconds per (bucket, party size), used to measure open time by differences
--   nd_iv   : intervals touching the range (ended ones + still-open ones, still_open = TRUE);
--             ended_at = when the end was recorded (NULL: still open). An interval whose end was
--             recorded after a day is still open at that day's end: only ends with ended_at inside a
--             day are that day's facts, and its open time there runs to min(closed_lo, day end)
--             (closed_lo is also what open_slots.last_seen_at showed at the day's end)

CREATE OR REPLACE TEMP TABLE nd_days AS
SELECT CAST(d AS DATE) AS metric_date,
       CAST(isodow(d) AS SMALLINT) AS weekday,
       timezone('UTC', timezone($tz, d)) AS t0,
       timezone('UTC', timezone($tz, d + INTERVAL 1 DAY)) AS t1
FROM range(CAST($d0 AS TIMESTAMP), CAST($d1 AS TIMESTAMP), INTERVAL 1 DAY) r(d);

CREATE OR REPLACE TEMP TABLE nd_iv AS
WITH b AS (SELECT min(t0) AS t0, max(t1) AS t1 FROM nd_days)
SELECT s.provider, s.venue_id, s.bucket_id, s.party_size, s.time_bucket, s.source, s.is_release,
       s.opened_lo, s.opened_hi, s.opened_local, s.closed_lo, s.closed_hi, s.end_reason, s.duration_s,
       coalesce(s.ended_at, s.closed_hi, s.closed_lo) AS ended_at, FALSE AS still_open
FROM slot_intervals s, b
WHERE s.opened_hi < b.t1
  -- every fact of the range (drop, close, censored end, open piece, snapshot) needs an interval
  -- that was still open at, or ended (was recorded ended) in or after, the range's start
  AND coalesce(s.ended_at, s.closed_hi, s.closed_lo) >= b.t0
UNION ALL
-- still open now: no end known (an expiry at bucket retirement is recorded by the prune that
-- follows, on the day it runs: see collector.nightly.prune_buckets; $today is not used here)
SELECT o.provider, o.venue_id, o.bucket_id, o.party_size,
       coalesce(k.time_bucket, CASE WHEN list_contains($prime_slots, substr(o.bucket_id, 12, 5)) THEN 'prime' ELSE 'off_peak' END),
       o.source, o.is_release, o.opened_lo, o.opened_hi,
       timezone(coalesce(v.tz, $tz), timezone('UTC', o.opened_hi)),
       o.last_seen_at, NULL, NULL, NULL, NULL, TRUE
FROM open_slots o
LEFT JOIN buckets k ON k.bucket_id = o.bucket_id AND k.party_size = o.party_size
LEFT JOIN venues v ON v.provider = o.provider AND v.venue_id = o.venue_id, b
WHERE o.opened_hi < b.t1;
