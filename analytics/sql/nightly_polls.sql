-- nightly_polls: grain = one poll of poll_ledger. The polls the gap table of a nightly run needs:
-- started in [<t0>, <t1>) (naive UTC; a gap never crosses the end of its day, so nothing later is
-- needed). Columns: bucket_id, party_size, started_at, trusted.
-- analytics.nightly._polls turns them into the gap rows (gap to the next trusted poll, see its
-- docstring) with one sort in numpy instead of three partitioned window passes.
SELECT bucket_id, party_size, started_at, trusted
FROM poll_ledger
WHERE started_at >= $t0
  AND started_at < $t1;
