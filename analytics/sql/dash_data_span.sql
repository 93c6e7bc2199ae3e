-- dash_data_span: one row. First and last aggregated market day (day_quality); the default date
-- range of the filters ends at the last aggregated day. Before the first nightly run both are NULL
-- and the pages fall back to the last raw-event day (dash_last_raw_day).
SELECT min(metric_date) AS first_day, max(metric_date) AS last_day FROM day_quality;
