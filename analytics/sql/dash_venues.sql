-- dash_venues: one row per venue (id, name, neighborhood, price range); the venue picker.
SELECT venue_id, name, coalesce(neighborhood, '(unknown)') AS neighborhood, price_range, cuisine
FROM venues
ORDER BY name, venue_id;
