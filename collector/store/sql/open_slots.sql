-- Intervals opened by a poll, keyed by slot.
INSERT INTO open_slots SELECT * FROM new_opened
ON CONFLICT DO NOTHING
