-- A bucket's state after its poll (calibration, last polls, the trust rules' streak and history).
UPDATE buckets SET last_poll_at = u.last_poll_at, last_trusted_at = u.last_trusted_at,
       calibration_done = u.calibration_done, calibration_tries = u.calibration_tries,
       baseline_ready = u.baseline_ready, baseline_slots = u.baseline_slots,
       pending_collapse = u.collapse_since IS NOT NULL, collapse_since = u.collapse_since,
       collapse_answers = u.collapse_answers, closes_seen = u.closes_seen, open_slot_s = u.open_slot_s
FROM new_buckets u
WHERE buckets.bucket_id = u.bucket_id AND buckets.party_size = u.party_size
