-- dash_km_curve: grain = one (group, duration bin) of a histogram frame the caller registered as
-- `hist_frame` (columns grp, bin, lo_bin, hi_bin, n_closed, n_censored: dash_hist.sql /
-- dash_venue_hist.sql rows): the survival curve of measure_time_to_close (Turnbull's, with its 95%
-- band; at_risk; the share of the closed drops closed by the bin's end) for the dashboard's charts.
SELECT grp, bin, lo_s, hi_s, n_closed AS closed, n_censored AS censored, at_risk,
       survival, survival_lo, survival_hi, surely_open, maybe_open, closed_share AS cdf
FROM km_curve(hist_frame)
ORDER BY grp, bin;
