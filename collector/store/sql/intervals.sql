-- Ended intervals (closed, expired, censored), keyed by interval_id.
MERGE INTO slot_intervals s USING new_ended n ON s.interval_id = n.interval_id
WHEN NOT MATCHED THEN INSERT
