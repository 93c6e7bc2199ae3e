-- nightly_cleanup: drops the TEMP tables of one nightly step (daily_inputs.sql,
-- daily_open_time.sql, rolling_windows.sql) so the next step starts from the tables alone.
DROP TABLE IF EXISTS daily_days;
DROP TABLE IF EXISTS daily_polls;
DROP TABLE IF EXISTS daily_gaps;
DROP TABLE IF EXISTS daily_intervals;
DROP TABLE IF EXISTS daily_keys;
DROP TABLE IF EXISTS daily_pieces;
DROP TABLE IF EXISTS daily_piece_ranges;
DROP TABLE IF EXISTS daily_open;
DROP TABLE IF EXISTS rolling_windows;
