-- dash_venue_intervals: the most recent finished slot intervals of one venue ($venue_id) that opened
-- on venue-local days [$d0, $d1], newest first (then slot, party size, table type: one order for
-- intervals seen in the same poll), at most $limit rows: the columns Venue detail shows (bounds, end
-- reason, point duration, NULL when censored). The date bound keeps the read to the range
-- (slot_intervals is kept for the whole history and appended in time order, so row groups outside it
-- are skipped). A venue's rows sit in every row group of the range, so each column read costs a
-- block per row group: only the shown columns are read.
SELECT si.slot_date, si.slot_time, si.party_size, si.table_type, si.time_bucket, si.source,
       si.is_release, si.opened_hi, si.closed_lo, si.closed_hi, si.end_reason,
       si.duration_s
FROM slot_intervals si
WHERE si.venue_id = $venue_id
  AND si.opened_local >= $d0::TIMESTAMP AND si.opened_local < ($d1::DATE + INTERVAL 1 DAY)::TIMESTAMP
ORDER BY si.opened_hi DESC, si.slot_date, si.slot_time, si.party_size, si.table_type
LIMIT $limit;
