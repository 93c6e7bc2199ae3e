SELECT si.slot_date, si.slot_time, si.party_size, si.table_type, si.time_bucket, si.source,
       si.is_release, si.opened_hi, si.closed_lo, si.closed_hi, si.end_reason,
       si.duration_s
FROM slot_intervals si
WHERE si.venue_id = $venue_id
  AND si.opened_local >= $d0::TIMESTAMP AND si.opened_local < ($d1::DATE + INTERVAL 1 DAY)::TIMESTAMP
ORDER BY si.opened_hi DESC, si.slot_date, si.slot_time, si.party_size, si.table_type
LIMIT $limit;
