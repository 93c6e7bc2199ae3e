-- dash_poll_span: one row: first and last poll start (UTC) and the poll count in the ledger.
SELECT min(started_at) AS first_at, max(started_at) AS last_at, count(*) AS polls,
       count(*) FILTER (WHERE trusted) AS trusted
FROM poll_ledger;
