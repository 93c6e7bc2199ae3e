-- Intervals opened by a poll, keyed by slot.
MERGE INTO open_slots o USING new_opened n
ON o.provider = n.provider AND o.venue_id = n.venue_id AND o.slot_date = n.slot_date AND o.slot_time = n.slot_time
   AND o.party_size = n.party_size AND o.table_type = n.table_type
WHEN NOT MATCHED THEN INSERT
