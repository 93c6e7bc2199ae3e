-- dash_filter_options: one row per (neighborhood, price_range) among known venues, with the
-- venue count; feeds the filter bar's choices.
SELECT coalesce(neighborhood, '(unknown)') AS neighborhood, price_range, count(*) AS venues
FROM venues
GROUP BY ALL
ORDER BY neighborhood, price_range;
