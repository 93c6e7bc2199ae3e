-- Venues as last seen; first_seen_at stays, last_seen_at only moves forward.
MERGE INTO venues USING new_venues n ON venues.provider = n.provider AND venues.venue_id = n.venue_id
WHEN MATCHED THEN UPDATE SET name = n.name, neighborhood = n.neighborhood, price_range = n.price_range,
    cuisine = n.cuisine, tz = n.tz, lat = n.lat, lon = n.lon, last_seen_at = greatest(venues.last_seen_at, n.seen_at)
WHEN NOT MATCHED THEN INSERT VALUES (n.provider, n.venue_id, n.name, n.neighborhood, n.price_range, n.cuisine, n.tz,
    n.lat, n.lon, n.seen_at, n.seen_at)
