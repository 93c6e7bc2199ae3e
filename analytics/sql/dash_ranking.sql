-- dash_ranking: one row per venue with venue_daily rows matching the filters: the "Hardest tables"
-- ranking, recomputed for the filtered slice from mergeable daily aggregates.
--   drops_per_day      drops / days with data quality rows (day_quality) in the filtered days
--   km_median_s        Kaplan-Meier median time-to-close over the merged log-binned histogram
--                      (closed = event, expired/censored = censored; life-table c/2 correction;
--                      log-linear interpolation in the crossing bin); _lo/_hi: 95% interval where
--                      S -/+ 1.96 Greenwood SE reaches 0.5 (lower edge of that bin for the low end,
--                      upper edge for the high end: conservative; NULL if never)
--   fully_booked_share fully_booked_s / observed_s (time-weighted)
--   trend_pct          drops per observed day, last 7 days of the range vs the 7 before
--   n = closed_timed + censored (KM sample); thin = n < $min_n
--   scarcity_score     analytics.scores.SCARCITY_FORMULA over the non-thin venues of this slice:
--                      100 x mean of percent ranks (fully booked share asc, drops/day desc,
--                      median desc); NULL components left out; NULL for thin rows
-- Shared filters (NULL = all): metric_date (market-local day the transition was observed) in
-- [$d0, $d1]; $hoods (neighborhood names, '(unknown)' for none); $prices (price_range 1-4);
-- $time_bucket ('prime' | 'off_peak'); $parties (party sizes); $dows (ISO weekday 1=Mon..7=Sun of
-- metric_date); $venue_id. Reads the nightly aggregates (0002_metrics), never raw events.
WITH days AS (
    SELECT metric_date FROM day_quality
    WHERE metric_date BETWEEN $d0 AND $d1 AND ($dows IS NULL OR list_contains($dows, isodow(metric_date)))
), nd AS (
    SELECT count(*) AS n_days,
           count(*) FILTER (WHERE metric_date > $d1 - INTERVAL 7 DAY) AS days_last7,
           count(*) FILTER (WHERE metric_date <= $d1 - INTERVAL 7 DAY AND metric_date > $d1 - INTERVAL 14 DAY) AS days_prev7
    FROM days
), agg AS (
    SELECT vd.venue_id,
           sum(vd.drops) AS drops, sum(vd.release_drops) AS release_drops, sum(vd.cancel_drops) AS cancel_drops,
           sum(vd.closed_timed) AS closed_timed, sum(vd.censored) AS censored,
           sum(vd.sum_close_s) / nullif(sum(vd.closed_timed), 0) AS mean_close_s,
           sum(vd.observed_s) AS observed_s, sum(vd.fully_booked_s) AS fully_booked_s,
           sum(vd.drops) FILTER (WHERE vd.metric_date > $d1 - INTERVAL 7 DAY) AS drops_last7,
           sum(vd.drops) FILTER (WHERE vd.metric_date <= $d1 - INTERVAL 7 DAY AND vd.metric_date > $d1 - INTERVAL 14 DAY) AS drops_prev7,
           bool_or(vd.partial) AS any_partial
    FROM venue_daily vd
    LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
    WHERE vd.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR vd.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, vd.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(vd.metric_date)))
      AND ($venue_id IS NULL OR vd.venue_id = $venue_id)
    GROUP BY vd.venue_id
), h AS (
    SELECT vd.venue_id, vd.bin, sum(vd.n_closed)::DOUBLE AS c, sum(vd.n_censored)::DOUBLE AS z
    FROM venue_daily_hist vd
    LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
    WHERE vd.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR vd.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, vd.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(vd.metric_date)))
      AND ($venue_id IS NULL OR vd.venue_id = $venue_id)
    GROUP BY ALL
), r AS (
    SELECT h.*, sum(c + z) OVER (PARTITION BY venue_id ORDER BY bin DESC ROWS UNBOUNDED PRECEDING) - z / 2.0 AS n_eff
    FROM h
), s AS (
    SELECT r.*,
           exp(sum(CASE WHEN c >= n_eff THEN -1e6 ELSE ln(1 - c / n_eff) END) OVER w) AS surv,
           sum(CASE WHEN n_eff > c THEN c / (n_eff * (n_eff - c)) ELSE 0 END) OVER w AS gw
    FROM r WINDOW w AS (PARTITION BY venue_id ORDER BY bin ROWS UNBOUNDED PRECEDING)
), s2 AS (
    SELECT s.venue_id, s.bin, s.surv, s.surv * sqrt(s.gw) AS se, b.lo_s, b.hi_s,
           coalesce(lag(s.surv) OVER (PARTITION BY s.venue_id ORDER BY s.bin), 1.0) AS surv_prev
    FROM s JOIN duration_bins b ON b.bin = s.bin
), km AS (
    SELECT venue_id,
           arg_min(CASE WHEN surv_prev <= surv THEN hi_s
                        WHEN lo_s <= 0 THEN hi_s * (surv_prev - 0.5) / (surv_prev - surv)
                        ELSE lo_s * pow(hi_s / lo_s, (surv_prev - 0.5) / (surv_prev - surv)) END, bin)
               FILTER (WHERE surv <= 0.5) AS km_median_s,
           min(lo_s) FILTER (WHERE surv - 1.96 * se <= 0.5) AS km_median_lo_s,
           min(hi_s) FILTER (WHERE surv + 1.96 * se <= 0.5) AS km_median_hi_s
    FROM s2 GROUP BY venue_id
), base AS (
    SELECT a.venue_id,
           coalesce(v.name, 'venue ' || a.venue_id::VARCHAR) AS venue,
           coalesce(v.neighborhood, '(unknown)') AS neighborhood,
           v.price_range,
           a.drops,
           a.drops / nullif(nd.n_days, 0)::DOUBLE AS drops_per_day,
           km.km_median_s, km.km_median_lo_s, km.km_median_hi_s,
           a.mean_close_s,
           a.fully_booked_s / nullif(a.observed_s, 0) AS fully_booked_share,
           a.release_drops, a.cancel_drops,
           a.drops_last7, a.drops_prev7,
           CASE WHEN nd.days_last7 > 0 AND nd.days_prev7 > 0 AND a.drops_prev7 > 0
                THEN ((a.drops_last7 / nd.days_last7) - (a.drops_prev7 / nd.days_prev7))
                     / (a.drops_prev7 / nd.days_prev7) * 100 END AS trend_pct,
           a.closed_timed, a.censored,
           (a.closed_timed + a.censored)::INTEGER AS n,
           (a.closed_timed + a.censored) < $min_n AS thin,
           a.any_partial AS partial,
           nd.n_days
    FROM agg a CROSS JOIN nd
    LEFT JOIN km ON km.venue_id = a.venue_id
    LEFT JOIN venues v ON v.venue_id = a.venue_id
), ranked AS (
    SELECT base.*,
           CASE WHEN NOT thin AND fully_booked_share IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY thin, fully_booked_share IS NULL ORDER BY fully_booked_share) END AS pr_booked,
           CASE WHEN NOT thin AND drops_per_day IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY thin, drops_per_day IS NULL ORDER BY drops_per_day DESC) END AS pr_drops,
           CASE WHEN NOT thin AND km_median_s IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY thin, km_median_s IS NULL ORDER BY km_median_s DESC) END AS pr_speed
    FROM base
)
SELECT * EXCLUDE (pr_booked, pr_drops, pr_speed),
       CASE WHEN NOT thin THEN 100 * (coalesce(pr_booked, 0) + coalesce(pr_drops, 0) + coalesce(pr_speed, 0))
            / nullif((pr_booked IS NOT NULL)::INT + (pr_drops IS NOT NULL)::INT + (pr_speed IS NOT NULL)::INT, 0) END
           AS scarcity_score
FROM ranked
ORDER BY scarcity_score DESC NULLS LAST, venue_id;
