-- 0012_venue_hourly: each venue's NEW_DROPs by market day and local hour, so Venue detail's weekday x
-- hour heatmap reads a small per-day table instead of every slot interval of its date range (a
-- venue's intervals lie in every row group of slot_intervals).
-- Grain: metric_date x provider x venue x hour_local; drops = NEW_DROPs first seen (opened_hi) in
-- that local hour (the venue's zone) of that market day. Made by the nightly job
-- (analytics/sql/venue_hourly.sql).
-- Days aggregated before this migration are filled here from slot_intervals and open_slots (both
-- kept forever): the local day and hour of opened_hi in the venue's zone, which is the nightly's
-- market day wherever the venue keeps the market's zone (a single-zone market, as every one so far);
-- `recompute` rebuilds them with the nightly's own definition.
CREATE TABLE venue_hourly (
    metric_date  DATE NOT NULL,
    provider     VARCHAR NOT NULL,
    venue_id     BIGINT NOT NULL,
    hour_local   SMALLINT NOT NULL,
    drops        INTEGER NOT NULL        -- no PRIMARY KEY, as the other metric tables since 0005: the
);                                       -- job keeps the grain unique (tests/analytics/test_nightly.py)
INSERT INTO venue_hourly
WITH drops AS (
    SELECT provider, venue_id, opened_hi FROM slot_intervals WHERE source = 'drop'
    UNION ALL
    SELECT provider, venue_id, opened_hi FROM open_slots WHERE source = 'drop'
), seen AS (
    SELECT d.provider, d.venue_id, timezone(v.tz, timezone('UTC', d.opened_hi)) AS t
    FROM drops d JOIN venues v ON v.provider = d.provider AND v.venue_id = d.venue_id
)
SELECT CAST(t AS DATE), provider, venue_id, CAST(hour(t) AS SMALLINT), count(*)
FROM seen
WHERE CAST(t AS DATE) IN (SELECT metric_date FROM day_quality)
GROUP BY ALL;
