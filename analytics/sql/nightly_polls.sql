-- nightly_polls: grain = one poll of poll_ledger. The polls the gap table of a nightly run needs:
-- started in [<t0>, <t1> + <max_gap_s> + 1 s) (naive UTC), so the last trusted poll of the range
-- still sees its next trusted poll. Columns: bucket_id, party_size, started_at, trusted.
-- analytics.nightly._build_gaps turns them into nd_gaps (gap to the next trusted poll, see
-- nightly_prepare) with one sort in numpy instead of three partitioned window passes.
SELECT bucket_id, party_size, started_at, trusted
FROM poll_ledger
WHERE started_at >= $t0
  AND started_at < $t1 + to_microseconds(CAST($max_gap_s * 1e6 AS BIGINT)) + INTERVAL 1 SECOND;
