-- data_days: one row, the first and last market-local (<tz>) day with any poll in poll_ledger.
SELECT CAST(timezone($tz, timezone('UTC', min(started_at))) AS DATE) AS first_day,
       CAST(timezone($tz, timezone('UTC', max(started_at))) AS DATE) AS last_day
FROM poll_ledger;
