-- dash_open_now: one row per slot open as of its bucket's last trusted poll (open_slots), with
-- venue details. age_s = $as_of - opened_hi (first trusted poll that saw it open).
-- Filters ($x NULL = all): $sources, $hoods, $prices, $time_bucket, $parties.
SELECT o.venue_id,
       coalesce(v.name, 'venue ' || o.venue_id::VARCHAR)  AS venue,
       coalesce(v.neighborhood, '(unknown)')              AS neighborhood,
       v.price_range,
       o.slot_date,
       o.slot_time,
       o.party_size,
       o.table_type,
       b.time_bucket,
       o.source,
       o.is_release,
       o.opened_hi                                        AS opened_at,
       o.last_seen_at,
       date_diff('second', o.opened_hi, $as_of::TIMESTAMP) AS age_s
FROM open_slots o
LEFT JOIN venues v ON v.provider = o.provider AND v.venue_id = o.venue_id
LEFT JOIN buckets b ON b.bucket_id = o.bucket_id AND b.party_size = o.party_size
WHERE ($sources IS NULL OR list_contains($sources, o.source))
  AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
  AND ($prices IS NULL OR list_contains($prices, v.price_range))
  AND ($time_bucket IS NULL OR b.time_bucket = $time_bucket)
  AND ($parties IS NULL OR list_contains($parties, o.party_size))
ORDER BY o.opened_hi DESC, venue, o.slot_date, o.slot_time;
