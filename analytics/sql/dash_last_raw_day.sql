-- dash_last_raw_day: one row. The venue-local day of the latest raw event (NULL when none); read
-- only before the first nightly run, when nothing is aggregated yet.
SELECT max(observed_local)::DATE AS last_raw_day FROM availability_events;
