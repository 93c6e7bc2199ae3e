-- First sighting of a venue on a date (release detection).
INSERT INTO venue_dates_seen SELECT * FROM new_venue_dates
ON CONFLICT DO NOTHING
