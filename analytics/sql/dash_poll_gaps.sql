-- dash_poll_gaps: one row per gap between consecutive trusted polls of one (bucket, party size)
-- longer than $min_gap_s seconds, in [$t0, $t1): no state moved for that bucket in the gap.
WITH t AS (
    SELECT bucket_id, party_size, started_at,
           lag(started_at) OVER (PARTITION BY bucket_id, party_size ORDER BY started_at) AS prev_at
    FROM poll_ledger
    WHERE trusted AND started_at >= $t0::TIMESTAMP AND started_at < $t1::TIMESTAMP
)
SELECT bucket_id, party_size, prev_at AS gap_from, started_at AS gap_to,
       date_diff('second', prev_at, started_at) AS gap_s
FROM t
WHERE prev_at IS NOT NULL AND date_diff('second', prev_at, started_at) > $min_gap_s
ORDER BY gap_s DESC, bucket_id, party_size
LIMIT 200;
