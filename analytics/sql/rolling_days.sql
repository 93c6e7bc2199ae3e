-- rolling_days: grain = one aggregated day (day_quality row) of [<a0> - 13, <a1>): the days a
-- 7/14-day window of an as_of in [<a0>, <a1>) counts as observed (days_observed) and partial.
SELECT metric_date, partial
FROM day_quality
WHERE metric_date >= CAST($a0 AS DATE) - 13 AND metric_date < $a1
ORDER BY metric_date;
