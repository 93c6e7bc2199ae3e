-- measure_time_to_close: THE time-to-close definition (DuckDB macros). Every table, page and digest
-- figure of "how long a table stays open" comes from here: the nightly rolling tables, the
-- dashboard's rankings, venue and distribution pages, the digest.
--
-- A duration is never seen exactly: the polls bracket it. A timed close lasted between
-- L = closed_lo - opened_hi (seen open that long) and R = closed_hi - opened_lo (gone by then); a
-- censored interval (expired, still open, a close seen only across a long gap) lasted at least L.
-- Over hourly polls [L, R] is two hours wide, over 30-second polls a minute.
--
-- duration_bin(seconds): the fixed log-spaced bin of a duration (20 per decade, duration_bins in
--   0002): 0 below 1 s, else floor(20 log10 d) + 1, at most 141. The per-day histograms
--   (venue_daily_hist, market_daily_hist) keep each interval as (bin of its point duration, lo_bin
--   = bin of L, hi_bin = bin of R; a censored one at lo_bin only), so they merge over any days and
--   filters.
--
-- time_to_close(hist): grain = one grp. `hist` names a relation with columns grp (any type), bin,
--   lo_bin, hi_bin, n_closed, n_censored (the per-day histograms' rows, summed or not).
--   n, n_closed, n_censored   the sample (closed + censored intervals)
--   km_median_s               the median of Turnbull's estimate: the Kaplan-Meier generalised to
--                             interval-censored durations, so coarse and fine polls combine (each
--                             interval weighs where the others place the mass), in
--                             analytics/turnbull.py, registered as turnbull_fit
--   km_median_lo_s, _hi_s     its 95% interval (quantiles at 1/2 -/+ 1.96 sqrt(1/4n))
--   resolution_s              how finely the polls place the median (turnbull.summarize)
--   km_median_bound_s         what to show instead of the median when the polls cannot resolve it:
--                             the polls around it must be at most an eighth of it apart
--                             (resolution_s <= median / 8). Bracketing alone then leaves +-12.5%,
--                             and the rest of a reader's +-25% covers what coarse polls do to the
--                             estimate itself: over hourly polls a slot booked in the last hour before
--                             the expiry guard reads as expired (censored), and since bookings crowd
--                             towards the slot's time, a median of hours reads 30-60% long even at a
--                             quarter. Otherwise the bound: "under" the median of the intervals'
--                             upper ends R (a censored one has none), which the true median cannot
--                             exceed (half the timed tables were certainly gone by then).
--                             NULL = resolved.
--                             An unresolved median with no such bound (most intervals censored) is
--                             not shown at all (km_median_s NULL).
--   median_close_s            the median of the closed point durations (first absent - first seen)
--                             alone, log-linear in its bin: what the intervals read without their
--                             bounds (a hidden column for comparison, never the headline)
--
-- km_curve(hist): grain = one (grp, bin) with fitted mass or closed intervals: Turnbull's survival
--   (1 - the estimate's CDF at the bin's end) with a 95% band (+-1.96 sqrt(S(1-S)/n)), at_risk =
--   n x the survival before the bin, and closed_share, the empirical CDF of the closed point
--   durations alone (the drop-duration histogram's curve). Within a poll gap the estimate cannot
--   say when a table closed (over hourly polls it steps at the hour), so the curve comes with what
--   the polls alone guarantee at the bin's end: surely_open = the share of intervals seen open past
--   it (L beyond the bin), maybe_open = the share not certainly gone by it (R beyond the bin; a
--   censored interval is never certainly gone). The true survival lies between the two.

CREATE OR REPLACE TEMP MACRO duration_bin(seconds) AS
    CAST(CASE WHEN seconds < 1 THEN 0 ELSE least(141, floor(20 * log10(seconds)) + 1) END AS SMALLINT);

-- interval_bounds(hist): one row per (grp, lo_bin, hi_bin) with any interval, counts summed: what the
-- estimate reads of a histogram.
CREATE OR REPLACE TEMP MACRO interval_bounds(hist) AS TABLE
    SELECT grp, CAST(lo_bin AS SMALLINT) AS lo_bin, CAST(hi_bin AS SMALLINT) AS hi_bin,
           sum(n_closed)::BIGINT AS n_closed, sum(n_censored)::BIGINT AS n_censored
    FROM query_table(hist) GROUP BY ALL HAVING sum(n_closed) + sum(n_censored) > 0;

CREATE OR REPLACE TEMP MACRO time_to_close(hist) AS TABLE
WITH bounds AS (
    SELECT * FROM interval_bounds(hist)
), fitted AS (
    SELECT grp, sum(n_closed + n_censored) AS n, sum(n_closed) AS n_closed, sum(n_censored) AS n_censored,
           turnbull_fit(list(lo_bin), list(hi_bin), list(n_closed), list(n_censored)) AS fit
    FROM bounds GROUP BY grp
), points AS (         -- the closed point durations per bin, counted through each bin
    SELECT grp, bin, n_closed, sum(n_closed) OVER (PARTITION BY grp ORDER BY bin) AS through,
           sum(n_closed) OVER (PARTITION BY grp) AS total
    FROM (SELECT grp, bin, sum(n_closed)::DOUBLE AS n_closed FROM query_table(hist) GROUP BY ALL)
    WHERE n_closed > 0
), point_median AS (
    SELECT p.grp,
           arg_min(CASE WHEN b.lo_s <= 0 THEN (p.total / 2 - (p.through - p.n_closed)) / p.n_closed
                        ELSE b.lo_s * pow(b.hi_s / b.lo_s, (p.total / 2 - (p.through - p.n_closed)) / p.n_closed) END,
                   p.bin) FILTER (WHERE p.through >= p.total / 2) AS median_close_s
    FROM points p JOIN duration_bins b ON b.bin = p.bin GROUP BY p.grp
), judged AS (
    SELECT f.*, coalesce(f.fit.resolution_s * 8 <= f.fit.median_s, FALSE) AS resolved
    FROM fitted f
)
-- rounded to the microsecond (durations are whole microseconds): identical histograms must give
-- identical figures (ranking ties) whatever order the sums ran in
SELECT j.grp, CAST(j.n AS BIGINT) AS n, CAST(j.n_closed AS BIGINT) AS n_closed, CAST(j.n_censored AS BIGINT) AS n_censored,
       round(CASE WHEN j.resolved OR j.fit.bound_s IS NOT NULL THEN j.fit.median_s END, 6) AS km_median_s,
       round(j.fit.median_lo_s, 6) AS km_median_lo_s, round(j.fit.median_hi_s, 6) AS km_median_hi_s,
       round(CASE WHEN NOT j.resolved THEN j.fit.bound_s END, 6) AS km_median_bound_s,
       round(j.fit.resolution_s, 6) AS resolution_s,
       round(m.median_close_s, 6) AS median_close_s
FROM judged j LEFT JOIN point_median m ON m.grp IS NOT DISTINCT FROM j.grp;

CREATE OR REPLACE TEMP MACRO km_curve(hist) AS TABLE
WITH bounds AS (
    SELECT * FROM interval_bounds(hist)
), fitted AS (
    SELECT grp, sum(n_closed + n_censored)::DOUBLE AS n,
           turnbull_curve(list(lo_bin), list(hi_bin), list(n_closed), list(n_censored)) AS curve
    FROM bounds GROUP BY grp
), mass AS (
    SELECT grp, n, cell.bin AS bin, cell.mass AS mass FROM (SELECT grp, n, unnest(curve) AS cell FROM fitted)
), points AS (
    SELECT grp, bin, sum(n_closed)::DOUBLE AS closed, sum(n_censored)::DOUBLE AS censored
    FROM query_table(hist) GROUP BY ALL
), cells AS (
    SELECT coalesce(m.grp, p.grp) AS grp, coalesce(m.bin, p.bin) AS bin, coalesce(m.mass, 0.0) AS mass,
           coalesce(p.closed, 0.0) AS closed, coalesce(p.censored, 0.0) AS censored
    FROM mass m FULL JOIN points p ON p.grp IS NOT DISTINCT FROM m.grp AND p.bin = m.bin
    WHERE coalesce(m.mass, 0) > 0 OR coalesce(p.closed, 0) > 0
), sure AS (           -- per cell: intervals seen open past its bin's end / not certainly gone by it
    SELECT c.grp, c.bin,
           sum(b.n_closed + b.n_censored) FILTER (WHERE b.lo_bin > c.bin) AS seen_past,
           sum(b.n_censored) + coalesce(sum(b.n_closed) FILTER (WHERE b.hi_bin > c.bin), 0) AS not_gone
    FROM cells c JOIN bounds b ON b.grp IS NOT DISTINCT FROM c.grp
    GROUP BY c.grp, c.bin
), running AS (
    SELECT c.*, n.n, coalesce(s.seen_past, 0) / n.n AS surely_open, s.not_gone / n.n AS maybe_open,
           greatest(0.0, 1 - sum(c.mass) OVER through) AS survival,
           greatest(0.0, 1 - sum(c.mass) OVER through + c.mass) AS survival_prev,
           sum(c.closed) OVER through / nullif(sum(c.closed) OVER (PARTITION BY c.grp), 0) AS closed_share
    FROM cells c JOIN (SELECT grp, any_value(n) AS n FROM mass GROUP BY grp) n ON n.grp IS NOT DISTINCT FROM c.grp
    JOIN sure s ON s.grp IS NOT DISTINCT FROM c.grp AND s.bin = c.bin
    WINDOW through AS (PARTITION BY c.grp ORDER BY c.bin ROWS UNBOUNDED PRECEDING)
)
SELECT r.grp, r.bin, b.lo_s, b.hi_s, r.closed AS n_closed, r.censored AS n_censored, r.n * r.survival_prev AS at_risk,
       r.survival, r.survival_prev,
       greatest(0.0, r.survival - 1.96 * sqrt(r.survival * (1 - r.survival) / r.n)) AS survival_lo,
       least(1.0, r.survival + 1.96 * sqrt(r.survival * (1 - r.survival) / r.n)) AS survival_hi,
       r.surely_open, r.maybe_open, r.closed_share
FROM running r JOIN duration_bins b ON b.bin = r.bin;
