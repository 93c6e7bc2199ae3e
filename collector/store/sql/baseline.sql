-- Slots seen while a bucket calibrates.
INSERT INTO baseline_slots BY NAME SELECT * FROM new_baseline
ON CONFLICT DO NOTHING
