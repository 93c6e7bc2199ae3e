-- nightly_supply_base: grain = bucket_id, party_size (of temp.nd_keys, the range's polled keys):
-- slots in the bucket's baseline (seen in its calibration polls: source 'baseline'), ended ones
-- whose last sighting is at most 15 days before <t0> plus still-open ones. supply_daily.baseline_slots.
SELECT bucket_id, party_size, count(*) AS n FROM (
    SELECT bucket_id, party_size FROM slot_intervals
    WHERE source = 'baseline' AND closed_lo >= CAST($t0 AS TIMESTAMP) - INTERVAL 15 DAY
    UNION ALL
    SELECT bucket_id, party_size FROM open_slots WHERE source = 'baseline')
WHERE bucket_id IN (SELECT bucket_id FROM nd_keys)
GROUP BY ALL;
