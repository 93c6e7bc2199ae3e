-- dash_data_span: one row. First and last aggregated market day (day_quality), and the last day
-- with a raw event; the default date range of the filters ends at the last aggregated day.
SELECT (SELECT min(metric_date) FROM day_quality) AS first_day,
       (SELECT max(metric_date) FROM day_quality) AS last_day,
       (SELECT max(observed_local)::DATE FROM availability_events) AS last_raw_day;
