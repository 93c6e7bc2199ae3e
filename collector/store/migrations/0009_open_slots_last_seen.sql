-- 0009_open_slots_last_seen: open_slots.last_seen_at is dropped. Every row of open_slots is a slot
-- its bucket's last trusted poll saw open (a trusted poll ends or re-opens every slot it no longer
-- sees, and an untrusted one changes nothing), so a row's last sighting is always
-- buckets.last_trusted_at of its (bucket_id, party_size). Keeping the column true cost an UPDATE of
-- every open slot of the bucket on every poll (~12k rows at 5,000 venues, and a scan of the whole
-- table to find them): a fifth of the store's share of a poll. Readers join buckets instead, falling
-- back to opened_hi (the first sighting) where a bucket row is gone.
ALTER TABLE open_slots DROP COLUMN last_seen_at;
