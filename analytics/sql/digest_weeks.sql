-- digest_weeks: one row per ISO week (market-local days) with at least one aggregated day in
-- day_quality: iso_year, iso_week, first_day, last_day, days (aggregated days in the week, 1..7),
-- partial_days. The digest's week picker and its "is there any data for this week" check.
SELECT isoyear(metric_date) AS iso_year, week(metric_date) AS iso_week,
       min(metric_date) AS first_day, max(metric_date) AS last_day,
       count(*)::INTEGER AS days, count(*) FILTER (WHERE partial)::INTEGER AS partial_days
FROM day_quality
GROUP BY ALL
ORDER BY iso_year DESC, iso_week DESC;
