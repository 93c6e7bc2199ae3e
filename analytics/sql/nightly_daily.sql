-- nightly_daily: (re)writes every per-day metric table for the days in nd_days (see
-- nightly_prepare), delete-then-insert, inside the caller's transaction. Definitions are in the
-- table comments of collector/store/migrations/0002_metrics.sql; the essentials:
--   day of a drop = local day of opened_hi; of a CLOSED = of closed_hi; of a censored end
--   (expired / censored, or a close seen across a long gap) = of ended_at, when the collector
--   recorded it (never earlier than the day's nightly run could know: a day is final once over).
--   time-to-close sample = intervals with a known opening (source 'drop' or 'reopen', opening
--   bracketed by polls <= max_gap_s apart); baseline intervals are left-censored (opening unknown)
--   and only count in `closed`; a close seen across a longer gap is censored (see nd_facts).
--   open time: a venue counts as open from each trusted poll at which it had >= 1 open slot in
--   the (bucket, party size) until the next trusted poll, over valid gaps only (nd_gaps).

DELETE FROM day_quality WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM venue_daily WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM venue_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM market_daily WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM supply_daily WHERE metric_date >= $d0 AND metric_date < $d1;

-- Grain: metric_date. Polls by started_at day; partial = outage day (see 0002 comment).
INSERT INTO day_quality
WITH b AS (SELECT min(t0) AS t0, max(t1) AS t1 FROM nd_days),
pl AS (
    SELECT d.metric_date, count(*) FILTER (WHERE l.trusted) AS tr, count(*) FILTER (WHERE NOT l.trusted) AS un
    FROM (SELECT l.* FROM poll_ledger l, b WHERE l.started_at >= b.t0 AND l.started_at < b.t1) l
    JOIN nd_days d ON l.started_at >= d.t0 AND l.started_at < d.t1
    GROUP BY d.metric_date
),
g AS (
    SELECT metric_date, sum(valid_s) AS obs,
           sum(CASE WHEN NOT valid AND next_t IS NOT NULL THEN gap_s ELSE 0 END) AS excl,
           max(gap_s) AS max_gap
    FROM nd_gaps GROUP BY metric_date
)
SELECT d.metric_date, d.weekday, coalesce(pl.tr, 0), coalesce(pl.un, 0),
       pl.tr / nullif(pl.tr + pl.un, 0),
       coalesce(g.obs, 0), coalesce(g.excl, 0), g.max_gap,
       coalesce(pl.tr, 0) = 0
         OR pl.un >= 0.05 * (pl.tr + pl.un)
         OR coalesce(g.excl, 0) >= 0.05 * (coalesce(g.obs, 0) + coalesce(g.excl, 0))
FROM nd_days d LEFT JOIN pl USING (metric_date) LEFT JOIN g USING (metric_date);

-- Open time per venue, day, time bucket, party size: temp.nd_open, built before this script by
-- analytics.nightly._build_open from nightly_open_iv.sql rows (islands of overlapping intervals
-- merged per venue and (bucket, party size), split at day boundaries, measured as differences of
-- nd_gaps.cum: the last gap starting at or before the piece's end minus the last one starting
-- before its start), in numpy: two partitioned window passes + two ASOF joins here cost ~2 s a day.

-- Interval facts per day: drops by opened_hi, closes by closed_hi, censored ends by ended_at.
-- Timed = the opening AND the close are each bracketed by trusted polls at most <max_gap_s> apart
-- (source 'drop' | 'reopen' and opened_hi - opened_lo <= max_gap_s, closed_hi - closed_lo <=
-- max_gap_s). A close seen only after a longer unobserved stretch (outage, polling hours) has an
-- unknown close time: it counts in `closed` and enters the survival sample as censored at
-- closed_lo - opened_hi (it lasted at least that long), never as a point duration; an opening seen
-- only after such a stretch is unknown (like a baseline slot): no duration sample at all.
CREATE OR REPLACE TEMP TABLE nd_facts AS
WITH iv AS (
    SELECT *,
           source IN ('drop', 'reopen') AND opened_lo IS NOT NULL
             AND epoch(opened_hi) - epoch(opened_lo) <= $max_gap_s AS open_known,
           closed_hi IS NOT NULL AND epoch(closed_hi) - epoch(closed_lo) <= $max_gap_s AS close_known
    FROM nd_iv
),
ev AS (
    SELECT provider, venue_id, time_bucket, party_size, 'drop' AS kind, opened_hi AS at, is_release,
           NULL::DOUBLE AS dur, opened_local
    FROM iv WHERE source = 'drop'
    UNION ALL
    SELECT provider, venue_id, time_bucket, party_size,
           CASE WHEN open_known AND close_known THEN 'closed_timed' ELSE 'closed_base' END,
           closed_hi, is_release, duration_s, NULL
    FROM iv WHERE end_reason = 'closed' AND closed_hi IS NOT NULL
    UNION ALL
    SELECT provider, venue_id, time_bucket, party_size, 'censored', ended_at, is_release,
           epoch(closed_lo) - epoch(opened_hi), NULL
    FROM iv WHERE open_known AND end_reason IS NOT NULL AND (end_reason <> 'closed' OR NOT close_known)
),
b AS (SELECT min(t0) AS t0, max(t1) AS t1 FROM nd_days)
SELECT e.*, d.metric_date, d.weekday
FROM (SELECT ev.* FROM ev, b WHERE ev.at >= b.t0 AND ev.at < b.t1) e
JOIN nd_days d ON e.at >= d.t0 AND e.at < d.t1;

-- Grain: provider, venue_id, metric_date, time_bucket, party_size (full grid, see 0002).
INSERT INTO venue_daily
WITH combos AS (   -- (day, time bucket, party size) polled that day, with its poll counts
    SELECT d.metric_date, d.weekday,
           CASE WHEN list_contains($prime_slots, substr(l.bucket_id, 12, 5)) THEN 'prime' ELSE 'off_peak' END AS time_bucket,
           l.party_size,
           count(*) FILTER (WHERE l.trusted) AS tr, count(*) FILTER (WHERE NOT l.trusted) AS un
    FROM (SELECT l.* FROM poll_ledger l, (SELECT min(t0) AS t0, max(t1) AS t1 FROM nd_days) b
          WHERE l.started_at >= b.t0 AND l.started_at < b.t1) l
    JOIN nd_days d ON l.started_at >= d.t0 AND l.started_at < d.t1
    GROUP BY ALL
),
obs AS (
    SELECT metric_date, time_bucket, party_size, sum(valid_s) AS observed_s
    FROM nd_gaps GROUP BY ALL
),
grid AS (
    SELECT v.provider, v.venue_id, c.*
    FROM combos c JOIN nd_days d USING (metric_date)
    JOIN venues v ON v.first_seen_at < d.t1
),
f AS (
    SELECT provider, venue_id, metric_date, time_bucket, party_size,
           count(*) FILTER (WHERE kind = 'drop') AS drops,
           count(*) FILTER (WHERE kind = 'drop' AND is_release) AS release_drops,
           count(*) FILTER (WHERE kind IN ('closed_timed', 'closed_base')) AS closed,
           count(*) FILTER (WHERE kind = 'closed_timed') AS closed_timed,
           count(*) FILTER (WHERE kind = 'censored') AS censored,
           coalesce(sum(dur) FILTER (WHERE kind = 'closed_timed'), 0) AS sum_close_s,
           avg(dur) FILTER (WHERE kind = 'closed_timed') AS mean_close_s,
           quantile_cont(dur, 0.5) FILTER (WHERE kind = 'closed_timed') AS median_close_s
    FROM nd_facts GROUP BY ALL
)
SELECT g.provider, g.venue_id, g.metric_date, g.weekday, g.time_bucket, g.party_size,
       coalesce(f.drops, 0), coalesce(f.release_drops, 0), coalesce(f.drops, 0) - coalesce(f.release_drops, 0),
       coalesce(f.closed, 0), coalesce(f.closed_timed, 0), coalesce(f.censored, 0),
       coalesce(f.sum_close_s, 0), f.mean_close_s, f.median_close_s,
       coalesce(o.observed_s, 0),
       least(coalesce(op.open_s, 0), coalesce(o.observed_s, 0)),
       coalesce(o.observed_s, 0) - least(coalesce(op.open_s, 0), coalesce(o.observed_s, 0)),
       g.tr, g.un, q.partial,
       coalesce(f.closed_timed, 0), coalesce(f.closed_timed, 0) < $min_sample
FROM grid g
JOIN day_quality q ON q.metric_date = g.metric_date
LEFT JOIN f ON f.provider = g.provider AND f.venue_id = g.venue_id AND f.metric_date = g.metric_date
           AND f.time_bucket = g.time_bucket AND f.party_size = g.party_size
LEFT JOIN obs o ON o.metric_date = g.metric_date AND o.time_bucket = g.time_bucket AND o.party_size = g.party_size
LEFT JOIN nd_open op ON op.provider = g.provider AND op.venue_id = g.venue_id AND op.metric_date = g.metric_date
           AND op.time_bucket = g.time_bucket AND op.party_size = g.party_size;

-- Grain: provider, venue_id, metric_date, time_bucket, party_size, bin (see duration_bins).
INSERT INTO venue_daily_hist
SELECT provider, venue_id, metric_date, time_bucket, party_size,
       CAST(CASE WHEN dur < 1 THEN 0 ELSE least(141, floor(20 * log10(dur)) + 1) END AS SMALLINT) AS bin,
       count(*) FILTER (WHERE kind = 'closed_timed'),
       count(*) FILTER (WHERE kind = 'censored'),
       coalesce(sum(dur) FILTER (WHERE kind = 'closed_timed'), 0)
FROM nd_facts
WHERE kind IN ('closed_timed', 'censored') AND dur IS NOT NULL
GROUP BY ALL;

-- Grain: metric_date, hour_local, neighborhood, price_range, time_bucket, party_size (drops only).
INSERT INTO market_daily
SELECT f.metric_date, f.weekday, CAST(hour(f.opened_local) AS SMALLINT),
       coalesce(v.neighborhood, '(unknown)'), coalesce(v.price_range, 0), f.time_bucket, f.party_size,
       count(*), count(*) FILTER (WHERE f.is_release), count(*) FILTER (WHERE NOT f.is_release),
       count(DISTINCT f.venue_id), any_value(q.partial)
FROM nd_facts f
JOIN day_quality q ON q.metric_date = f.metric_date
LEFT JOIN venues v ON v.provider = f.provider AND v.venue_id = f.venue_id
WHERE f.kind = 'drop'
GROUP BY ALL;

-- Grain: metric_date, bucket_id, party_size: inventory at the day's last trusted poll of each bucket.
INSERT INTO supply_daily
WITH snap AS (
    SELECT metric_date, bucket_id, party_size, any_value(time_bucket) AS time_bucket, max(t) AS snapshot_at
    FROM nd_gaps GROUP BY metric_date, bucket_id, party_size
),
base AS (
    SELECT bucket_id, party_size, count(*) AS n FROM (
        SELECT bucket_id, party_size FROM slot_intervals, (SELECT min(t0) AS t0 FROM nd_days) b
        WHERE source = 'baseline' AND closed_lo >= b.t0 - INTERVAL 15 DAY
        UNION ALL
        SELECT bucket_id, party_size FROM open_slots WHERE source = 'baseline')
    WHERE bucket_id IN (SELECT bucket_id FROM snap)
    GROUP BY ALL
),
openat AS (
    SELECT s.metric_date, s.bucket_id, s.party_size, count(*) AS n, count(DISTINCT i.venue_id) AS nv
    FROM snap s JOIN nd_iv i
      ON i.bucket_id = s.bucket_id AND i.party_size = s.party_size
     AND i.opened_hi <= s.snapshot_at AND i.closed_lo >= s.snapshot_at
    GROUP BY ALL
)
SELECT s.metric_date, s.bucket_id, s.party_size, CAST(left(s.bucket_id, 10) AS DATE), s.time_bucket,
       CAST(CAST(left(s.bucket_id, 10) AS DATE) - s.metric_date AS SMALLINT), s.snapshot_at,
       coalesce(o.n, 0), coalesce(o.nv, 0), coalesce(b.n, 0), q.partial
FROM snap s
JOIN day_quality q ON q.metric_date = s.metric_date
LEFT JOIN openat o ON o.metric_date = s.metric_date AND o.bucket_id = s.bucket_id AND o.party_size = s.party_size
LEFT JOIN base b ON b.bucket_id = s.bucket_id AND b.party_size = s.party_size;
