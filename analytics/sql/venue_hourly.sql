-- venue_hourly: grain = day x provider x venue x local hour, for the days [<d0>, <d1>): a venue's
-- NEW_DROPs by the local hour they were first seen (opened_hi, the venue's zone), counted on the
-- market day of opened_hi as market_daily counts them (which sums the same drops over venues):
-- Venue detail's weekday x hour heatmap. Input: daily_inputs.sql.

DELETE FROM venue_hourly WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO venue_hourly BY NAME
SELECT d.metric_date, i.provider, i.venue_id, i.hour_local, count(*) AS drops
FROM daily_intervals i
JOIN daily_days d ON i.opened_hi >= d.day_start AND i.opened_hi < d.day_end
WHERE i.is_drop
GROUP BY d.metric_date, i.provider, i.venue_id, i.hour_local;
