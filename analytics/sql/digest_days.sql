-- digest_days: one row per aggregated market-local day (day_quality) in [$d0, $d1].
-- Grain: metric_date. drops = NEW_DROPs observed that day (market_daily, all cells);
-- prime_drops / off_peak_drops by time bucket; release_drops = drops on a date that had just
-- entered the booking window. polls_* and trusted_share = the poll ledger's verdicts that day
-- (trusted_share = trusted / all polls); partial = outage day (day_quality.partial): its numbers
-- are incomplete, never a quiet day. The sample behind a day's drop count is its trusted polls.
WITH m AS (
    SELECT metric_date,
           sum(drops)::BIGINT AS drops,
           coalesce(sum(drops) FILTER (WHERE time_bucket = 'prime'), 0)::BIGINT AS prime_drops,
           coalesce(sum(drops) FILTER (WHERE time_bucket = 'off_peak'), 0)::BIGINT AS off_peak_drops,
           sum(release_drops)::BIGINT AS release_drops
    FROM market_daily
    WHERE metric_date BETWEEN $d0 AND $d1
    GROUP BY metric_date
)
SELECT dq.metric_date, dq.weekday,
       coalesce(m.drops, 0)::BIGINT AS drops,
       coalesce(m.prime_drops, 0)::BIGINT AS prime_drops,
       coalesce(m.off_peak_drops, 0)::BIGINT AS off_peak_drops,
       coalesce(m.release_drops, 0)::BIGINT AS release_drops,
       dq.polls_trusted, dq.polls_untrusted, dq.trusted_share, dq.excluded_s, dq.partial
FROM day_quality dq
LEFT JOIN m ON m.metric_date = dq.metric_date
WHERE dq.metric_date BETWEEN $d0 AND $d1
ORDER BY dq.metric_date;
