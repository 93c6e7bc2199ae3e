-- dash_as_of: one row. The data's "now": the latest trusted poll of any bucket (UTC), plus the
-- latest poll of any outcome. Pages measure ages against this instant, not the wall clock, so a
-- snapshot or a stopped collector reads consistently.
SELECT max(last_trusted_at) AS as_of,
       max(last_poll_at)    AS last_poll_at
FROM buckets;
