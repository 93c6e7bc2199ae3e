-- dash_time_to_close: grain = one group of a histogram frame the caller registered as `hist_frame`
-- (columns grp, bin, n_closed, n_censored): measure_time_to_close's figures per group (n, the
-- Kaplan-Meier median and its 95% interval, the median of the closed drops alone) and
-- km_median_bound_s, time_to_close_bound at $poll_gap_s (the median poll gap of the slice's days).
SELECT grp, n, n_closed, n_censored, km_median_s, km_median_lo_s, km_median_hi_s,
       time_to_close_bound(km_median_s, $poll_gap_s) AS km_median_bound_s, median_close_s
FROM time_to_close(hist_frame)
ORDER BY grp;
