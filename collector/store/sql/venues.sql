-- Venues as last seen; first_seen_at stays, last_seen_at only moves forward.
INSERT INTO venues
SELECT provider, venue_id, name, neighborhood, price_range, cuisine, tz, lat, lon, seen_at, seen_at FROM new_venues
ON CONFLICT (provider, venue_id) DO UPDATE SET name = excluded.name, neighborhood = excluded.neighborhood,
    price_range = excluded.price_range, cuisine = excluded.cuisine, tz = excluded.tz, lat = excluded.lat,
    lon = excluded.lon, last_seen_at = greatest(venues.last_seen_at, excluded.last_seen_at)
