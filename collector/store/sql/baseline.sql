-- Slots seen while a bucket calibrates.
INSERT INTO baseline_slots SELECT * FROM new_baseline
ON CONFLICT DO NOTHING
