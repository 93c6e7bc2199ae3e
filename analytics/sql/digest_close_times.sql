-- digest_close_times: time-to-close of the timed CLOSED intervals (venue_daily_hist.n_closed, the
-- same sample as venue_daily.closed_timed) observed on market days [$d0, $d1] in time bucket
-- $time_bucket, from the nightly's mergeable histogram.
-- Grain: one row per venue (venue_id NOT NULL) plus one market-wide row (venue_id NULL).
--   n       closed intervals with a point duration
--   mean_s  exact mean point duration (sum of durations / n)
--   sd_s    standard deviation estimated from the bins: between-bin spread of the bin means plus a
--           uniform within-bin spread (bin width^2 / 12), over n - 1; NULL when n < 2. Bins are 20 per
--           decade, so this is close to the exact value and never 0 just because the poll cadence
--           made many durations equal.
WITH b AS (
    SELECT venue_id, bin, sum(n_closed)::DOUBLE AS n, sum(sum_s) AS s
    FROM venue_daily_hist
    WHERE time_bucket = $time_bucket AND metric_date BETWEEN $d0 AND $d1 AND n_closed > 0
    GROUP BY GROUPING SETS ((venue_id, bin), (bin))
), j AS (
    SELECT b.venue_id, b.n, b.s, d.lo_s, d.hi_s FROM b JOIN duration_bins d ON d.bin = b.bin
), tot AS (
    SELECT venue_id, sum(n) AS n, sum(s) / sum(n) AS mean_s FROM j GROUP BY venue_id
)
SELECT t.venue_id, t.n::BIGINT AS n, t.mean_s,
       CASE WHEN t.n >= 2 THEN sqrt(sum(j.n * (pow(j.s / j.n - t.mean_s, 2) + pow(j.hi_s - j.lo_s, 2) / 12))
                                    / (t.n - 1)) END AS sd_s
FROM tot t JOIN j ON j.venue_id IS NOT DISTINCT FROM t.venue_id
GROUP BY t.venue_id, t.n, t.mean_s
ORDER BY t.venue_id NULLS FIRST;
