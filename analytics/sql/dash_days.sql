-- dash_days: one row per aggregated market day (day_quality) in [$d0, $d1]: weekday, trusted
-- share, partial flag. The denominator of every "per day" figure, and the outage marker;
-- median_gap_s (0008; NULL for days aggregated before it) is the resolution of the day's durations.
SELECT metric_date AS day, weekday, polls_trusted, polls_untrusted, trusted_share, observed_s,
       excluded_s, max_gap_s, partial, median_gap_s
FROM day_quality
WHERE metric_date BETWEEN $d0 AND $d1
ORDER BY day;
