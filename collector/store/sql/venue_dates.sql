-- First sighting of a venue on a date (release detection).
MERGE INTO venue_dates_seen s USING new_venue_dates n
ON s.provider = n.provider AND s.venue_id = n.venue_id AND s.slot_date = n.slot_date
WHEN NOT MATCHED THEN INSERT
