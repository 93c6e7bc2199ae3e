-- day_quality: grain = one market-local day of [<d0>, <d1>). How well the day was watched; a row
-- here also marks the day as aggregated (the raw-event prune checks it). Inputs: daily_inputs.sql.
--   polls_trusted / polls_untrusted  polls started that day (any bucket, any time)
--   trusted_share   polls_trusted / all polls (NULL when no poll)
--   observed_s      sum of the observed (valid) gaps over every (bucket, party size)
--   excluded_s      gaps with an end that are not observed: an untrusted poll inside, or too long
--   max_gap_s       the longest gap with an end
--   median_gap_s    median of the observed gaps: the resolution of the day's durations
--   partial         an outage day, never to be read as a quiet one: no trusted poll, >= 5% of the
--                   polls untrusted, >= 5% of the watched time in gaps broken by untrusted polls, or
--                   a stretch longer than <max_gap_s> with no trusted poll of ANY bucket (the
--                   collector itself was not polling: down, or not yet started or already stopped
--                   at the day's start or end; one bucket polled rarely by its schedule, as the
--                   history builder polls far-ahead buckets, is excluded time but no outage)

DELETE FROM day_quality WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO day_quality BY NAME
WITH polls AS (
    SELECT metric_date, count(*) FILTER (WHERE trusted) AS polls_trusted,
           count(*) FILTER (WHERE NOT trusted) AS polls_untrusted
    FROM daily_polls GROUP BY metric_date
), gaps AS (
    SELECT metric_date, sum(valid_s) AS observed_s, sum(failed_s) AS failed_s,
           sum(gap_s) FILTER (WHERE has_end AND NOT valid) AS excluded_s,
           max(gap_s) FILTER (WHERE has_end) AS max_gap_s,
           quantile_cont(gap_s, 0.5) FILTER (WHERE valid) AS median_gap_s
    FROM daily_gaps GROUP BY metric_date
), silence AS (        -- longest stretch of the day with no trusted poll of any bucket, the stretches
                      -- from its start to the first poll and from the last poll to its end included
    SELECT metric_date, max(epoch_us(next_at) - epoch_us(at_or_edge)) / 1e6 AS longest_silence_s
    FROM (SELECT metric_date, at_or_edge,
                 lead(at_or_edge) OVER (PARTITION BY metric_date ORDER BY at_or_edge) AS next_at
          FROM (SELECT metric_date, started_at AS at_or_edge FROM daily_polls WHERE trusted
                UNION ALL SELECT metric_date, day_start FROM daily_days
                UNION ALL SELECT metric_date, day_end FROM daily_days))
    GROUP BY metric_date
)
SELECT d.metric_date, d.weekday,
       coalesce(p.polls_trusted, 0) AS polls_trusted,
       coalesce(p.polls_untrusted, 0) AS polls_untrusted,
       p.polls_trusted / nullif(p.polls_trusted + p.polls_untrusted, 0) AS trusted_share,
       coalesce(g.observed_s, 0) AS observed_s,
       coalesce(g.excluded_s, 0) AS excluded_s,
       g.max_gap_s,
       coalesce(p.polls_trusted, 0) = 0
         OR coalesce(p.polls_untrusted, 0) * 20 >= coalesce(p.polls_trusted + p.polls_untrusted, 0)
         OR coalesce(g.failed_s, 0) >= 0.05 * (coalesce(g.observed_s, 0) + coalesce(g.failed_s, 0))
         OR coalesce(s.longest_silence_s > $max_gap_s, FALSE) AS partial,
       g.median_gap_s
FROM daily_days d
LEFT JOIN polls p USING (metric_date)
LEFT JOIN gaps g USING (metric_date)
LEFT JOIN silence s USING (metric_date);
