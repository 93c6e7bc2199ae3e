-- dash_time_to_close: grain = one group of a histogram frame the caller registered as `hist_frame`
-- (columns grp, bin, lo_bin, hi_bin, n_closed, n_censored): measure_time_to_close's figures per
-- group (n, the median with its 95% interval, the bound shown when the polls cannot resolve it, the
-- median of the closed drops alone).
SELECT grp, n, n_closed, n_censored, km_median_s, km_median_lo_s, km_median_hi_s, km_median_bound_s,
       resolution_s, median_close_s
FROM time_to_close(hist_frame)
ORDER BY grp;
