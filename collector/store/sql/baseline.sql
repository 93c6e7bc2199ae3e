-- Slots seen while a bucket calibrates.
MERGE INTO baseline_slots b USING new_baseline n
ON b.bucket_id = n.bucket_id AND b.party_size = n.party_size AND b.provider = n.provider AND b.venue_id = n.venue_id
   AND b.slot_time = n.slot_time AND b.table_type = n.table_type
WHEN NOT MATCHED THEN INSERT
