-- nightly_intervals: grain = one slot interval that touches the days [<t0>, <t1>) (naive UTC): an
-- ended one (slot_intervals) opened before <t1> whose end was recorded (ended_at) at or after <t0>,
-- or a still-open one (open_slots) opened before <t1>. Read once per run by
-- analytics.nightly.aggregate_range, which computes every per-day metric from these rows in numpy.
-- Columns (compact: no strings except for venues missing from the venues table):
--   vi        row of temp.nd_venues (-1: venue not in the venues table; xprov / xvid name it)
--   k         row of temp.nd_keys, the (bucket, party size) polled in the range (-1: none)
--   party_size
--   f         bit flags (one UTINYINT instead of six BOOLEAN columns):
--             1 prime (time_bucket = 'prime'), 2 is_drop (source 'drop' = a NEW_DROP), 4 is_release,
--             8 closed: a CLOSED, end_reason 'closed' with a known first-absent poll (closed_hi),
--             16 timed: a CLOSED with a known opening (source 'drop' | 'reopen', opened_lo..opened_hi
--                at most <max_gap_s>) and a known close (closed_lo..closed_hi at most <max_gap_s>):
--                the time-to-close sample, at duration_s (dur; NaN when missing),
--             32 censored: known opening, ended without a (timely seen) booking: expired / censored,
--                or a close seen only across a longer gap; lower bound closed_lo - opened_hi
--   a = opened_hi (first poll with it), z = closed_lo (last poll with it; still open: last sighting),
--   c = closed_hi (a CLOSED's day), e = ended_at (when the end was recorded; still open: z)
--   hr        local hour of opened_hi (opened_local; still open: the venue's zone, else <tz>)
-- The gap rows at opened_hi / closed_lo are found by analytics.nightly with a binary search (a hash
-- join against them here cost ~20 ms a day for the same answer).
-- Definitions of the facts: collector/store/migrations/0002_metrics.sql (venue_daily comment).
WITH iv AS (
    SELECT provider, venue_id, bucket_id, party_size,
           CAST(time_bucket = 'prime' AS UTINYINT)
           | (CAST(source = 'drop' AS UTINYINT) << 1)
           | (CAST(coalesce(is_release, FALSE) AS UTINYINT) << 2)
           | (CAST(coalesce(end_reason = 'closed' AND closed_hi IS NOT NULL, FALSE) AS UTINYINT) << 3)
           | (CAST(coalesce(end_reason = 'closed' AND closed_hi IS NOT NULL AND ok AND close_known, FALSE) AS UTINYINT) << 4)
           | (CAST(coalesce(ok AND end_reason IS NOT NULL AND (end_reason <> 'closed' OR NOT close_known), FALSE) AS UTINYINT) << 5) AS f,
           opened_hi AS a, closed_lo AS z, coalesce(closed_hi, closed_lo) AS c,
           coalesce(ended_at, closed_hi, closed_lo) AS e,
           coalesce(duration_s, 'NaN'::DOUBLE) AS dur, CAST(hour(opened_local) AS TINYINT) AS hr
    FROM (SELECT *, source IN ('drop', 'reopen') AND opened_lo IS NOT NULL
                    AND epoch(opened_hi) - epoch(opened_lo) <= $max_gap_s AS ok,
                 closed_hi IS NOT NULL AND epoch(closed_hi) - epoch(closed_lo) <= $max_gap_s AS close_known
          FROM slot_intervals
          -- (ended_at >= $t0 OR ended_at IS NULL) says the same as the coalesce for every collector row
          -- and lets DuckDB skip row groups by ended_at's min/max: the table keeps the whole history,
          -- which the coalesce alone would scan every night
          WHERE opened_hi < $t1 AND (ended_at >= $t0 OR ended_at IS NULL)
            AND coalesce(ended_at, closed_hi, closed_lo) >= $t0)
    UNION ALL
    SELECT o.provider, o.venue_id, o.bucket_id, o.party_size,
           CAST(coalesce(bk.time_bucket, CASE WHEN list_contains($prime_slots, substr(o.bucket_id, 12, 5))
                                         THEN 'prime' ELSE 'off_peak' END) = 'prime' AS UTINYINT)
           | (CAST(o.source = 'drop' AS UTINYINT) << 1)
           | (CAST(coalesce(o.is_release, FALSE) AS UTINYINT) << 2),
           -- an open slot's last sighting is its bucket's last trusted poll (0009_open_slots_last_seen.sql)
           o.opened_hi, coalesce(bk.last_trusted_at, o.opened_hi) AS seen, seen, seen, 'NaN'::DOUBLE,
           CAST(hour(timezone(coalesce(v.tz, $tz), timezone('UTC', o.opened_hi))) AS TINYINT)
    FROM open_slots o
    LEFT JOIN buckets bk ON bk.bucket_id = o.bucket_id AND bk.party_size = o.party_size
    LEFT JOIN venues v ON v.provider = o.provider AND v.venue_id = o.venue_id
    WHERE o.opened_hi < $t1
)
SELECT coalesce(x.vi, -1) AS vi, coalesce(nk.k, -1) AS k, iv.party_size, iv.f,
       iv.a, iv.z, iv.c, iv.e, iv.dur, iv.hr,
       CASE WHEN x.vi IS NULL THEN iv.provider END AS xprov,
       CASE WHEN x.vi IS NULL THEN iv.venue_id ELSE 0 END AS xvid
FROM iv
LEFT JOIN nd_venues x ON x.provider = iv.provider AND x.venue_id = iv.venue_id
LEFT JOIN nd_keys nk ON nk.bucket_id = iv.bucket_id AND nk.party_size = iv.party_size;
