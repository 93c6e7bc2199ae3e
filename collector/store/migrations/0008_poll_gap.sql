-- 0008_poll_gap: day_quality.median_gap_s, the median gap between consecutive trusted polls of one
-- (bucket, party size) over the day's observed gaps (the ones that count as observed time: see
-- day_quality.observed_s). Durations are measured between polls, so this is their resolution: a
-- slot that opens and closes between two polls is not seen, and one seen once reads as about one
-- gap long. The dashboard shows it beside every time-to-close figure. Written by the nightly job
-- (analytics/nightly.py); NULL for days aggregated before this migration until `tablepulse
-- recompute` (or a re-run of the day) writes it. Added last, so the column order of day_quality
-- stays the one nightly_write.sql inserts.
ALTER TABLE day_quality ADD COLUMN median_gap_s DOUBLE;
