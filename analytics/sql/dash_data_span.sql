-- dash_data_span: one row. First and last venue-local day with a finished slot interval, and the
-- last day with a raw event; the default date range of the filters ends at last_day.
SELECT (SELECT min(opened_local)::DATE FROM slot_intervals) AS first_day,
       greatest((SELECT max(opened_local)::DATE FROM slot_intervals),
                (SELECT max(observed_local)::DATE FROM availability_events)) AS last_day;
