-- dash_open_now: slots open as of their bucket's last trusted poll (open_slots), in three classes:
-- 'just' (NEW_DROP first seen at most $window_s before $as_of), 'still' (older NEW_DROPs) and
-- 'baseline' (open since the calibration polls, or reopened). Returns at most $limit rows per class,
-- newest first, each carrying n_class = the class's full count under the filters, so the page
-- shows exact totals without fetching every open slot. age_s = $as_of - opened_hi (the first
-- trusted poll that saw the slot open). Filters ($x NULL = all): $hoods, $prices, $time_bucket,
-- $parties.
WITH o AS (
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
           coalesce(b.last_trusted_at, o.opened_hi)          AS last_seen_at,
           date_diff('second', o.opened_hi, $as_of::TIMESTAMP) AS age_s
    FROM open_slots o
    LEFT JOIN venues v ON v.provider = o.provider AND v.venue_id = o.venue_id
    LEFT JOIN buckets b ON b.bucket_id = o.bucket_id AND b.party_size = o.party_size
    WHERE ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR b.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, o.party_size))
),
c AS MATERIALIZED (
    SELECT *, CASE WHEN source <> 'drop' THEN 'baseline'
                   WHEN age_s <= $window_s THEN 'just' ELSE 'still' END AS cls
    FROM o
),
n AS (SELECT cls, count(*) AS n_class FROM c GROUP BY cls),
top AS (
    (SELECT * FROM c WHERE cls = 'just'     ORDER BY opened_at DESC, venue, slot_date, slot_time LIMIT $limit)
    UNION ALL
    (SELECT * FROM c WHERE cls = 'still'    ORDER BY opened_at DESC, venue, slot_date, slot_time LIMIT $limit)
    UNION ALL
    (SELECT * FROM c WHERE cls = 'baseline' ORDER BY opened_at DESC, venue, slot_date, slot_time LIMIT $limit)
)
SELECT top.*, n.n_class
FROM top JOIN n USING (cls)
ORDER BY cls, opened_at DESC, venue, slot_date, slot_time;
