-- digest_neighborhoods: one row per neighborhood ('(unknown)' when the provider did not say) with
-- venue_daily rows in this week [$d0, $d1] or the week before [$p0, $p1] (market-local days).
--   venues          venues of the neighborhood with a venue_daily row this week
--   drops / prev_drops  NEW_DROPs observed this week / the week before
--   closed_timed    CLOSED intervals with a known opening this week (the time-to-close sample)
--   mean_close_s    mean point time-to-close (first poll without - first poll with) of those
-- All sizes and time buckets together. Sorted by drops (desc), then name.
SELECT coalesce(v.neighborhood, '(unknown)') AS neighborhood,
       count(DISTINCT vd.venue_id) FILTER (WHERE vd.metric_date BETWEEN $d0 AND $d1)::INTEGER AS venues,
       coalesce(sum(vd.drops) FILTER (WHERE vd.metric_date BETWEEN $d0 AND $d1), 0)::BIGINT AS drops,
       coalesce(sum(vd.drops) FILTER (WHERE vd.metric_date BETWEEN $p0 AND $p1), 0)::BIGINT AS prev_drops,
       coalesce(sum(vd.closed_timed) FILTER (WHERE vd.metric_date BETWEEN $d0 AND $d1), 0)::BIGINT AS closed_timed,
       sum(vd.sum_close_s) FILTER (WHERE vd.metric_date BETWEEN $d0 AND $d1)
           / nullif(sum(vd.closed_timed) FILTER (WHERE vd.metric_date BETWEEN $d0 AND $d1), 0) AS mean_close_s
FROM venue_daily vd
LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
WHERE vd.metric_date BETWEEN $p0 AND $d1
GROUP BY ALL
ORDER BY drops DESC, neighborhood;
