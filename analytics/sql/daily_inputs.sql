-- daily_inputs: the facts every per-day table of the local days [<d0>, <d1>) (market zone <tz>) is
-- made from, as TEMP tables of the nightly job's transaction (dropped by nightly_cleanup.sql). Read
-- from slot_intervals + open_slots + poll_ledger (kept forever), never from raw events, so
-- `recompute` can rebuild every metric after a definition changes.
--
--   daily_days       metric_date, weekday (ISO), [day_start, day_end) as naive UTC instants
--   daily_polls      every poll started in the range: its (bucket, party size), day, trusted, and
--                    whether it came before the bucket's expiry guard (slot time - <guard_minutes>,
--                    local): later polls judge nothing, slots leaving then are expiries
--   daily_gaps       one row per trusted poll before the guard: the gap from it to the next trusted
--                    poll of the same (bucket, party size) inside the poll's local day, else to the
--                    day's end (or the guard). A gap is OBSERVED time (valid) when it has an end, no
--                    untrusted poll of the key lies inside it and it is at most <max_gap_s> long.
--                    Without a next poll the stretch to midnight counts as ended only when it is
--                    short or broken by untrusted polls (an outage); otherwise the bucket's polling
--                    simply stopped (has_end false: neither observed nor excluded). So a day's gaps
--                    depend only on polls inside it: the nightly run and a later recompute agree.
--   daily_intervals  one row per slot interval touching the range (ended ones whose end was
--                    recorded at or after the range start, still-open ones), with what it says:
--     is_drop        a NEW_DROP (source 'drop'), counted on the day of opened_hi
--     is_closed      a CLOSED (end_reason 'closed' with its first-absent poll closed_hi), on the day
--                    of closed_hi
--     is_timed       a CLOSED with a known opening (source 'drop' | 'reopen', opened_lo..opened_hi at
--                    most <max_gap_s>) and a known close (closed_lo..closed_hi at most <max_gap_s>):
--                    the time-to-close sample, at duration_s (first absent - first seen)
--     is_censored    a known opening that ended without a (timely seen) booking: expired, censored,
--                    or a close seen only across a longer gap; counted on the day its end was
--                    recorded (ended_at), lasting at least censored_s = closed_lo - opened_hi
--     opened_lo, opened_hi, closed_hi  the interval's bounds (slot_intervals)
--     last_seen      closed_lo; a still-open slot's last sighting is its bucket's last trusted poll
--     hour_local     local hour of opened_hi (the venue's zone, else <tz>)

CREATE OR REPLACE TEMP TABLE daily_days AS
SELECT CAST(d AS DATE) AS metric_date,
       CAST(isodow(d) AS SMALLINT) AS weekday,
       timezone('UTC', timezone($tz, d)) AS day_start,
       timezone('UTC', timezone($tz, d + INTERVAL 1 DAY)) AS day_end
FROM range(CAST($d0 AS TIMESTAMP), CAST($d1 AS TIMESTAMP), INTERVAL 1 DAY) r(d);

CREATE OR REPLACE TEMP TABLE daily_polls AS
SELECT p.bucket_id, p.party_size, p.started_at, p.trusted, d.metric_date, d.day_end,
       list_contains($prime_slots, substr(p.bucket_id, 12, 5)) AS is_prime,
       timezone('UTC', timezone($tz, CAST(substr(p.bucket_id, 1, 10) || ' ' || substr(p.bucket_id, 12, 5) AS TIMESTAMP)))
           - to_minutes(CAST($guard_minutes AS BIGINT)) AS guard_at
FROM poll_ledger p
JOIN daily_days d ON p.started_at >= d.day_start AND p.started_at < d.day_end
WHERE p.started_at >= (SELECT min(day_start) FROM daily_days) AND p.started_at < (SELECT max(day_end) FROM daily_days);

CREATE OR REPLACE TEMP TABLE daily_gaps AS
WITH watched AS (      -- polls before the guard; gap_no = the trusted poll a poll follows
    SELECT *, sum(CAST(trusted AS INTEGER)) OVER (PARTITION BY bucket_id, party_size ORDER BY started_at, NOT trusted
                                                  ROWS UNBOUNDED PRECEDING) AS gap_no
    FROM daily_polls WHERE started_at < guard_at
), trusted AS (
    SELECT bucket_id, party_size, is_prime, metric_date, gap_no, started_at,
           least(day_end, guard_at) AS stop_at,
           lead(started_at) OVER (PARTITION BY bucket_id, party_size ORDER BY started_at) AS next_at
    FROM watched WHERE trusted
), ends AS (
    SELECT *, next_at IS NOT NULL AND next_at < stop_at AS has_next,
           CASE WHEN next_at IS NOT NULL AND next_at < stop_at THEN next_at ELSE stop_at END AS end_at
    FROM trusted
), broken AS (         -- untrusted polls of the key inside each gap
    SELECT e.bucket_id, e.party_size, e.gap_no, count(*) AS untrusted_inside
    FROM watched w JOIN ends e USING (bucket_id, party_size, gap_no)
    WHERE NOT w.trusted AND w.started_at < e.end_at
    GROUP BY ALL
), measured AS (
    SELECT e.*, coalesce(b.untrusted_inside, 0) AS untrusted_inside,
           (epoch_us(e.end_at) - epoch_us(e.started_at)) / 1e6 AS gap_s
    FROM ends e LEFT JOIN broken b USING (bucket_id, party_size, gap_no)
)
SELECT bucket_id, party_size, is_prime, metric_date, started_at, gap_s, untrusted_inside,
       has_next OR untrusted_inside > 0 OR gap_s <= $max_gap_s AS has_end,
       untrusted_inside = 0 AND gap_s <= $max_gap_s AS valid,
       CASE WHEN untrusted_inside = 0 AND gap_s <= $max_gap_s THEN gap_s ELSE 0 END AS valid_s,
       -- time in gaps broken by untrusted polls, each up to max_gap_s (a longer gap is unobserved by
       -- its length alone): what day_quality.partial weighs
       CASE WHEN untrusted_inside > 0 THEN least(gap_s, $max_gap_s) ELSE 0 END AS failed_s
FROM measured;

CREATE OR REPLACE TEMP TABLE daily_intervals AS
WITH ended AS (
    SELECT provider, venue_id, bucket_id, party_size, time_bucket = 'prime' AS is_prime,
           source = 'drop' AS is_drop, coalesce(is_release, FALSE) AS is_release,
           coalesce(end_reason = 'closed' AND closed_hi IS NOT NULL, FALSE) AS is_closed,
           coalesce(end_reason = 'closed' AND closed_hi IS NOT NULL AND open_known AND close_known, FALSE) AS is_timed,
           coalesce(open_known AND end_reason IS NOT NULL AND (end_reason <> 'closed' OR NOT close_known), FALSE) AS is_censored,
           opened_lo, opened_hi, closed_lo AS last_seen, closed_hi, coalesce(ended_at, closed_hi, closed_lo) AS ended_at,
           duration_s, CAST(hour(opened_local) AS SMALLINT) AS hour_local
    FROM (SELECT s.*, source IN ('drop', 'reopen') AND opened_lo IS NOT NULL
                      AND epoch(opened_hi) - epoch(opened_lo) <= $max_gap_s AS open_known,
                 closed_hi IS NOT NULL AND epoch(closed_hi) - epoch(closed_lo) <= $max_gap_s AS close_known
          FROM slot_intervals s
          -- (ended_at >= t0 OR ended_at IS NULL) says the same as the coalesce for every collector
          -- row and lets DuckDB skip row groups by ended_at's min/max (the table keeps all history)
          WHERE opened_hi < (SELECT max(day_end) FROM daily_days)
            AND (ended_at >= (SELECT min(day_start) FROM daily_days) OR ended_at IS NULL)
            AND coalesce(ended_at, closed_hi, closed_lo) >= (SELECT min(day_start) FROM daily_days))
), still_open AS (
    SELECT o.provider, o.venue_id, o.bucket_id, o.party_size,
           coalesce(bk.time_bucket, CASE WHEN list_contains($prime_slots, substr(o.bucket_id, 12, 5))
                                         THEN 'prime' ELSE 'off_peak' END) = 'prime' AS is_prime,
           o.source = 'drop' AS is_drop, coalesce(o.is_release, FALSE) AS is_release,
           FALSE AS is_closed, FALSE AS is_timed, FALSE AS is_censored,
           -- an open slot's last sighting is its bucket's last trusted poll (0009_open_slots_last_seen.sql)
           o.opened_lo, o.opened_hi, coalesce(bk.last_trusted_at, o.opened_hi) AS last_seen, NULL::TIMESTAMP AS closed_hi,
           coalesce(bk.last_trusted_at, o.opened_hi) AS ended_at, NULL::DOUBLE AS duration_s,
           CAST(hour(timezone(coalesce(v.tz, $tz), timezone('UTC', o.opened_hi))) AS SMALLINT) AS hour_local
    FROM open_slots o
    LEFT JOIN buckets bk ON bk.bucket_id = o.bucket_id AND bk.party_size = o.party_size
    LEFT JOIN venues v ON v.provider = o.provider AND v.venue_id = o.venue_id
    WHERE o.opened_hi < (SELECT max(day_end) FROM daily_days)
)
SELECT * FROM ended UNION ALL SELECT * FROM still_open;
