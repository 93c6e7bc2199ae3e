-- measure_time_to_close: THE time-to-close definition (DuckDB macros). Every table, page and digest
-- figure of "how long a table stays open" comes from here: the nightly rolling tables, the
-- dashboard's rankings, venue and distribution pages, the digest.
--
-- duration_bin(seconds): the fixed log-spaced bin of a duration (20 per decade, duration_bins in
--   0002): 0 below 1 s, else floor(20 log10 d) + 1, at most 141. Per-day histograms
--   (venue_daily_hist, market_daily_hist) keep the sample in these bins, so it merges over any days
--   and filters.
--
-- km_curve(hist): grain = one (grp, bin) with any count. `hist` names a relation with one row per
--   (grp, bin) and columns grp (any type: the group, e.g. a venue or a struct), bin, n_closed
--   (closed at a point duration in the bin: the event) and n_censored (known to have lasted at
--   least a duration in the bin: expired or censored). Kaplan-Meier in life-table form: at_risk = intervals not gone before the bin;
--   n_eff = at_risk - censored / 2 (a censored interval is at risk for half its bin); survival
--   S = prod (1 - closed / n_eff) (0 from the first bin where closed >= n_eff); Greenwood
--   variance S^2 sum closed / (n_eff (n_eff - closed)); survival_lo / survival_hi = S -/+ 1.96 SE,
--   clipped to [0, 1]; closed_share = the empirical CDF of the closed point durations alone.
--
-- time_to_close(hist): grain = one grp. n (closed + censored: the sample), n_closed, n_censored;
--   km_median_s = where S first falls to 0.5 (1e-9 tolerance: S is exp of a sum of logs),
--   log-linear inside the crossing bin (linear in bin 0, which starts at 0 s); km_median_lo_s /
--   km_median_hi_s = the same crossing of survival_lo / survival_hi (the 95% interval of the
--   median); median_close_s = the median of the closed point durations alone, interpolated the same
--   way. NULL where a curve never reaches 0.5. Every figure is rounded to the microsecond.
--
-- time_to_close_bound(median_s, poll_gap_s): what to show instead of a median the polls cannot
--   resolve. Durations are measured between polls: an interval seen in a single poll reads as about
--   one gap whatever its truth (anything from 0 to two gaps), so a median within two poll gaps
--   (poll_gap_s: the median gap between trusted polls over the days behind it, day_quality) says
--   only "under two gaps": the bound 2 x poll_gap_s, shown as "under ..."; NULL when the median is
--   resolved (or unknown).

CREATE OR REPLACE TEMP MACRO duration_bin(seconds) AS
    CAST(CASE WHEN seconds < 1 THEN 0 ELSE least(141, floor(20 * log10(seconds)) + 1) END AS SMALLINT);

CREATE OR REPLACE TEMP MACRO km_curve(hist) AS TABLE
WITH cells AS (
    SELECT grp, bin, n_closed::DOUBLE AS closed, n_censored::DOUBLE AS censored
    FROM query_table(hist) WHERE n_closed + n_censored > 0
), totals AS (
    SELECT grp, sum(closed + censored) AS intervals, sum(closed) AS closed_total FROM cells GROUP BY grp
), counted AS (
    SELECT c.*, t.closed_total,
           t.intervals - sum(c.closed + c.censored) OVER through AS at_risk_after,
           sum(c.closed) OVER through AS closed_through
    FROM cells c JOIN totals t ON t.grp IS NOT DISTINCT FROM c.grp
    WINDOW through AS (PARTITION BY c.grp ORDER BY c.bin ROWS UNBOUNDED PRECEDING)
), terms AS (
    SELECT *, at_risk_after + closed + censored AS at_risk,
           at_risk_after + closed + censored / 2 AS n_eff,
           CAST(n_eff > 0 AND closed >= n_eff AS INTEGER) AS dies_out,
           CASE WHEN n_eff > 0 AND closed < n_eff THEN ln(1 - closed / n_eff) ELSE 0 END AS log_step,
           CASE WHEN n_eff > 0 AND n_eff > closed THEN closed / (n_eff * (n_eff - closed)) ELSE 0 END AS greenwood_step
    FROM counted
), running AS (
    SELECT *, sum(dies_out) OVER through AS died_through, sum(log_step) OVER through AS log_through,
           sum(greenwood_step) OVER through AS greenwood_through
    FROM terms WINDOW through AS (PARTITION BY grp ORDER BY bin ROWS UNBOUNDED PRECEDING)
), curve AS (          -- the curve at the end of this bin and of the one before (1 before any)
    SELECT *,
           CASE WHEN died_through > 0 THEN 0.0 ELSE exp(log_through) END AS survival,
           sqrt(greenwood_through) AS rel_se,
           CASE WHEN died_through - dies_out > 0 THEN 0.0 ELSE exp(log_through - log_step) END AS survival_prev,
           sqrt(greatest(0.0, greenwood_through - greenwood_step)) AS rel_se_prev
    FROM running
)
SELECT c.grp, c.bin, b.lo_s, b.hi_s, c.closed AS n_closed, c.censored AS n_censored, c.at_risk,
       c.survival, c.survival_prev,
       greatest(0.0, c.survival - 1.96 * c.survival * c.rel_se) AS survival_lo,
       least(1.0, c.survival + 1.96 * c.survival * c.rel_se) AS survival_hi,
       greatest(0.0, c.survival_prev - 1.96 * c.survival_prev * c.rel_se_prev) AS survival_lo_prev,
       least(1.0, c.survival_prev + 1.96 * c.survival_prev * c.rel_se_prev) AS survival_hi_prev,
       c.closed_through / nullif(c.closed_total, 0) AS closed_share,
       c.closed_through, c.closed_total
FROM curve c JOIN duration_bins b ON b.bin = c.bin;

CREATE OR REPLACE TEMP MACRO median_crossing(prev, cur, lo_s, hi_s, clamp_bin0) AS
    CASE WHEN lo_s <= 0 THEN CASE WHEN clamp_bin0 THEN greatest(0.0, least(1.0, (prev - 0.5) / (prev - cur)))
                                  ELSE (prev - 0.5) / (prev - cur) END
         ELSE lo_s * pow(hi_s / lo_s, greatest(0.0, least(1.0, (prev - 0.5) / (prev - cur)))) END;

CREATE OR REPLACE TEMP MACRO time_to_close(hist) AS TABLE
WITH curve AS (SELECT * FROM km_curve(hist))
-- rounded to the microsecond (durations are whole microseconds): the window sums behind the curve
-- may run in any order, and identical histograms must still give identical medians (ranking ties)
SELECT grp,
       CAST(sum(n_closed + n_censored) AS BIGINT) AS n,
       CAST(sum(n_closed) AS BIGINT) AS n_closed,
       CAST(sum(n_censored) AS BIGINT) AS n_censored,
       round(arg_min(median_crossing(survival_prev, survival, lo_s, hi_s, TRUE), bin)
             FILTER (WHERE survival <= 0.5 + 1e-9), 6) AS km_median_s,
       round(arg_min(median_crossing(survival_lo_prev, survival_lo, lo_s, hi_s, FALSE), bin)
             FILTER (WHERE survival_lo <= 0.5 + 1e-9), 6) AS km_median_lo_s,
       round(arg_min(median_crossing(survival_hi_prev, survival_hi, lo_s, hi_s, FALSE), bin)
             FILTER (WHERE survival_hi <= 0.5 + 1e-9), 6) AS km_median_hi_s,
       round(arg_min(CASE WHEN lo_s <= 0 THEN (closed_total / 2 - (closed_through - n_closed)) / n_closed
                          ELSE lo_s * pow(hi_s / lo_s, (closed_total / 2 - (closed_through - n_closed)) / n_closed) END, bin)
             FILTER (WHERE n_closed > 0 AND closed_through >= closed_total / 2), 6) AS median_close_s
FROM curve GROUP BY grp;

CREATE OR REPLACE TEMP MACRO time_to_close_bound(median_s, poll_gap_s) AS
    CASE WHEN median_s <= 2 * poll_gap_s THEN 2 * poll_gap_s END;
