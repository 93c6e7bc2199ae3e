-- dash_poll_health: one row per (UTC hour of started_at, outcome) of polls in [$t0, $t1):
-- polls, trusted polls, median latency. 'ok' is a trusted poll; anything else is an error class.
SELECT date_trunc('hour', started_at) AS hour, outcome,
       count(*) AS polls,
       count(*) FILTER (WHERE trusted) AS trusted,
       median(latency_ms) AS median_latency_ms
FROM poll_ledger
WHERE started_at >= $t0::TIMESTAMP AND started_at < $t1::TIMESTAMP
GROUP BY ALL
ORDER BY hour, outcome;
