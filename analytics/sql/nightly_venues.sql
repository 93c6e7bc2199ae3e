-- nightly_venues: grain = one venue of the venues table, in a fixed order (its row number is the
-- venue index `vi` of analytics.nightly, registered as temp.nd_venues for nightly_intervals.sql).
-- neighborhood / price_range as stored (NULL when the provider did not say).
SELECT provider, venue_id, neighborhood, price_range, first_seen_at
FROM venues
ORDER BY provider, venue_id;
