-- Intervals opened by a poll, keyed by slot.
INSERT INTO open_slots BY NAME SELECT * FROM new_opened
ON CONFLICT DO NOTHING
