-- Grain: one row per value of the dimension $dimension over funnel_alert_rows, attributed at
-- alert_sent. $dimension is one of venue | neighborhood | time_bucket | party_size |
-- scarcity_decile (a value, not an identifier: chosen by CASE); unknown values -> '(unknown)'.
-- Definition: n_sent = alerts; n_opened / n_tapped / n_booked = alerts reaching each ordered step;
-- open_rate = n_opened / n_sent, tap_rate = n_tapped / n_sent, book_rate = n_booked / n_sent;
-- median_sent_to_book_s over booked alerts; scarcity_score = mean score of the alerts (NULL when
-- unknown); n = n_sent; thin = n_sent < $min_sample (flagged, never ranked).
WITH a AS (
    SELECT *,
           coalesce(CASE $dimension
                        WHEN 'venue' THEN CAST(venue_id AS VARCHAR)
                        WHEN 'neighborhood' THEN neighborhood
                        WHEN 'time_bucket' THEN time_bucket
                        WHEN 'party_size' THEN CAST(party_size AS VARCHAR)
                        WHEN 'scarcity_decile' THEN CAST(scarcity_decile AS VARCHAR)
                    END, '(unknown)') AS value
    FROM funnel_alert_rows
)
SELECT $dimension AS dimension, value,
       count(*) AS n_sent, count(opened_at) AS n_opened, count(tapped_at) AS n_tapped,
       count(booked_at) AS n_booked,
       count(opened_at) / count(*) AS open_rate,
       count(tapped_at) / count(*) AS tap_rate,
       count(booked_at) / count(*) AS book_rate,
       quantile_cont(epoch(booked_at - sent_at), 0.5) AS median_sent_to_book_s,
       avg(scarcity_score) AS scarcity_score,
       count(*) AS n,
       count(*) < $min_sample AS thin
FROM a
GROUP BY value
ORDER BY n_sent DESC, value;
