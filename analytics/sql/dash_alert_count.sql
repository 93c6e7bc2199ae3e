-- dash_alert_count: one row: alert_sent events with a skew-corrected time in [$t0, $t1). The
-- funnels page skips the full report when there is nothing to report.
SELECT count(*) AS n FROM alert_events
WHERE event_type = 'alert_sent' AND corrected_at >= $t0 AND corrected_at < $t1;
