-- Ended intervals (closed, expired, censored), keyed by interval_id.
INSERT INTO slot_intervals SELECT * FROM new_ended
ON CONFLICT DO NOTHING
