-- digest_close_times: time-to-close of CLOSED intervals with a known opening (source 'drop' or
-- 'reopen', end_reason 'closed') whose close was observed (closed_hi, converted to market-local
-- time zone $tz) on a day in [$d0, $d1], in time bucket $time_bucket. Same sample as venue_daily's
-- closed_timed / sum_close_s, read from slot_intervals to also get the spread.
-- Grain: one row per venue (venue_id NOT NULL) plus one market-wide row (venue_id NULL):
-- n, mean_s (mean point duration closed_hi - opened_hi), sd_s (sample std-dev; NULL when n < 2).
WITH iv AS (
    SELECT venue_id, duration_s
    FROM slot_intervals
    WHERE end_reason = 'closed' AND source IN ('drop', 'reopen') AND duration_s IS NOT NULL
      AND time_bucket = $time_bucket
      AND closed_hi >= timezone('UTC', timezone($tz, $d0::TIMESTAMP))
      AND closed_hi < timezone('UTC', timezone($tz, ($d1 + INTERVAL 1 DAY)::TIMESTAMP))
)
SELECT venue_id, count(*)::BIGINT AS n, avg(duration_s) AS mean_s, stddev_samp(duration_s) AS sd_s
FROM iv
GROUP BY GROUPING SETS ((venue_id), ())
ORDER BY venue_id NULLS FIRST;
