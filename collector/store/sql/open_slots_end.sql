-- Ended intervals leave open_slots. Their date range is a constant filter, so DuckDB skips other
-- dates' row groups by their min/max instead of matching every interval_id in the table.
DELETE FROM open_slots
WHERE slot_date BETWEEN $lo AND $hi AND interval_id IN (SELECT interval_id FROM new_ended)
