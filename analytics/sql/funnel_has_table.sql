-- Grain: one row (count). Definition: 1 when a table named $table_name exists in the main schema
-- (optional tables written by other jobs, e.g. venue_rolling), else 0.
SELECT count(*) AS n
FROM information_schema.tables
WHERE table_name = $table_name AND table_schema = 'main';
