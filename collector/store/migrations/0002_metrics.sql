-- 0002_metrics: derived metric tables written by the nightly job (analytics/nightly.py).
--
-- Conventions (same as 0001): *_at are naive UTC instants; metric_date / as_of are MARKET-local
-- days (Settings.timezone; one market = one city, so venue-local = market-local). A transition
-- belongs to the local day on which it was OBSERVED (the trusted poll that saw it; an end without a
-- poll, an expiry at bucket retirement, to the day the nightly run recorded it: ended_at): a day's rows
-- are final once the day is over, so the nightly run of day D never changes when re-run, and a
-- full recompute from slot_intervals + poll_ledger (kept forever) gives the same rows.
-- time_bucket is 'prime' | 'off_peak' (rolling tables add 'all'); party_size 0 means "all sizes".
-- Every metric row carries its sample size (n...) and thin = (n < Settings.min_sample); rankings
-- exclude thin rows by default. No JSON blobs: every dimension a chart filters on is a column.
-- Idempotency: the job deletes a day's (or an as_of's) rows and inserts them again in ONE
-- transaction, so re-running leaves identical tables. Keys are the grain; no secondary indexes.

-- Fixed log-spaced duration bins (20 per decade) so histograms merge across any filter:
-- bin 0 = [0, 1) s; bin k >= 1 = [10^((k-1)/20), 10^(k/20)) s; bin 141 also takes everything longer.
-- bin of a duration d: CASE WHEN d < 1 THEN 0 ELSE least(141, floor(20 * log10(d)) + 1) END.
CREATE TABLE duration_bins (
    bin   SMALLINT PRIMARY KEY,
    lo_s  DOUBLE NOT NULL,
    hi_s  DOUBLE NOT NULL          -- exclusive upper edge (bin 141: open-ended, hi_s is nominal)
);
INSERT INTO duration_bins
SELECT i::SMALLINT, CASE WHEN i = 0 THEN 0.0 ELSE pow(10, (i - 1) / 20.0) END, pow(10, i / 20.0)
FROM range(0, 142) r(i);

-- Per market day: data quality. A row here also marks the day as aggregated (written in the same
-- transaction as venue_daily), which is what the prune step checks before deleting raw events.
-- Polls are counted by their started_at local day. A "gap" is the time from one trusted poll of a
-- (bucket, party size) to the next trusted one, or to the end of the poll's local day if that comes
-- first (so a day's figures use only polls inside it: final at midnight, recompute = nightly run;
-- the stretch from midnight to a day's first poll is not observed time, nor is anything after the
-- bucket's expiry guard starts: slot time - expiry_guard_minutes); it is observed time unless
-- an untrusted poll of the same (bucket, party size) lies inside it or it is longer than max_gap_s
-- (then: excluded).
-- partial = no trusted poll at all, untrusted share >= 5%, >= 5% of the watched time in gaps with an
-- untrusted poll inside (each up to max_gap_s), or a stretch longer than max_gap_s with no trusted
-- poll of any bucket (the collector down): an outage day, never to be read as a quiet day. One
-- bucket's long gap between trusted polls (its schedule polls it rarely) is excluded time but no
-- outage (analytics/nightly.py).
CREATE TABLE day_quality (
    metric_date      DATE PRIMARY KEY,
    weekday          SMALLINT NOT NULL,     -- ISO: 1 = Monday .. 7 = Sunday
    polls_trusted    INTEGER NOT NULL,
    polls_untrusted  INTEGER NOT NULL,
    trusted_share    DOUBLE,                -- polls_trusted / all polls (NULL when no poll)
    observed_s       DOUBLE NOT NULL,       -- sum of observed gap seconds over all (bucket, party size)
    excluded_s       DOUBLE NOT NULL,       -- gap seconds excluded (untrusted poll inside / too long)
    max_gap_s        DOUBLE,                -- longest gap between consecutive trusted polls of one bucket
    partial          BOOLEAN NOT NULL
);

-- Grain: provider, venue_id, metric_date (local day of observation), time_bucket, party_size.
-- One row for EVERY venue known by the end of the day x every (time_bucket, party_size) polled
-- that day, so a venue with nothing opening has an explicit zero (volatility and drops/day need it).
--   drops          NEW_DROP observed that day (slot_intervals/open_slots source = 'drop', opened_hi in day)
--   release_drops  drops on a date that had just entered the venue's booking window (is_release)
--   cancel_drops   drops - release_drops (cancellations and other returns)
--   closed         CLOSED observed that day (closed_hi in day, end_reason 'closed'), any source
--   closed_timed   CLOSED of intervals with a known opening (source 'drop' | 'reopen', opened_lo
--                  and opened_hi at most max_gap_s apart) and a known close (closed_lo and
--                  closed_hi at most max_gap_s apart): the time-to-close sample; n = closed_timed
--   censored       intervals with a known opening whose end without a booking (expired /
--                  censored), or whose CLOSED seen only after a longer unobserved stretch (outage,
--                  polling hours), was RECORDED that day (slot_intervals.ended_at: the poll that saw
--                  it, or the nightly run that retired its bucket): closed_lo - opened_hi is a lower bound
--   sum_close_s, mean_close_s, median_close_s: over the closed_timed point durations
--                  (duration_s = first poll without it - first poll with it, the seed definition)
--   observed_s     observed time of this (time_bucket, party_size): sum of valid gaps over buckets
--   open_s         part of observed_s during which the venue had >= 1 open slot in the bucket
--   fully_booked_s observed_s - open_s; fully-booked share = fully_booked_s / observed_s
--   polls_trusted / polls_untrusted: polls of this (time_bucket, party_size) that day (market-wide)
--   partial        copied from day_quality
CREATE TABLE venue_daily (
    provider         VARCHAR NOT NULL,
    venue_id         BIGINT NOT NULL,
    metric_date      DATE NOT NULL,
    weekday          SMALLINT NOT NULL,
    time_bucket      VARCHAR NOT NULL,
    party_size       SMALLINT NOT NULL,
    drops            INTEGER NOT NULL,
    release_drops    INTEGER NOT NULL,
    cancel_drops     INTEGER NOT NULL,
    closed           INTEGER NOT NULL,
    closed_timed     INTEGER NOT NULL,
    censored         INTEGER NOT NULL,
    sum_close_s      DOUBLE NOT NULL,
    mean_close_s     DOUBLE,
    median_close_s   DOUBLE,
    observed_s       DOUBLE NOT NULL,
    open_s           DOUBLE NOT NULL,
    fully_booked_s   DOUBLE NOT NULL,
    polls_trusted    INTEGER NOT NULL,
    polls_untrusted  INTEGER NOT NULL,
    partial          BOOLEAN NOT NULL,
    n                INTEGER NOT NULL,      -- = closed_timed (sample behind mean/median)
    thin             BOOLEAN NOT NULL,
    PRIMARY KEY (provider, venue_id, metric_date, time_bucket, party_size)
);

-- Grain: provider, venue_id, metric_date, time_bucket, party_size, bin (non-empty bins only).
-- Mergeable time-to-close histogram of intervals with a known opening (source 'drop'|'reopen')
-- whose end was recorded on metric_date (closed_hi for a close, ended_at for a censored end): n_closed at their point duration, n_censored (expired / censored) at
-- closed_lo - opened_hi. SUM over any filter, then a binned Kaplan-Meier (analytics.survival
-- km_from_bins or the venue_rolling SQL) or a plain median of n_closed gives medians quickly.
CREATE TABLE venue_daily_hist (
    provider     VARCHAR NOT NULL,
    venue_id     BIGINT NOT NULL,
    metric_date  DATE NOT NULL,
    time_bucket  VARCHAR NOT NULL,
    party_size   SMALLINT NOT NULL,
    bin          SMALLINT NOT NULL,
    n_closed     INTEGER NOT NULL,
    n_censored   INTEGER NOT NULL,
    sum_s        DOUBLE NOT NULL,          -- sum of closed durations in the bin
    PRIMARY KEY (provider, venue_id, metric_date, time_bucket, party_size, bin)
);

-- Grain: metric_date, hour_local (0-23, local hour the NEW_DROP was observed), neighborhood,
-- price_range, time_bucket, party_size. One long table for every market breakdown: drops per hour
-- of day, by weekday (weekday column), by neighborhood, by price range: GROUP BY what you need.
-- neighborhood '(unknown)' and price_range 0 when the provider did not say. Only non-zero rows.
CREATE TABLE market_daily (
    metric_date    DATE NOT NULL,
    weekday        SMALLINT NOT NULL,
    hour_local     SMALLINT NOT NULL,
    neighborhood   VARCHAR NOT NULL,
    price_range    SMALLINT NOT NULL,
    time_bucket    VARCHAR NOT NULL,
    party_size     SMALLINT NOT NULL,
    drops          INTEGER NOT NULL,
    release_drops  INTEGER NOT NULL,
    cancel_drops   INTEGER NOT NULL,
    venues         INTEGER NOT NULL,       -- distinct venues with a drop in the cell
    partial        BOOLEAN NOT NULL,
    PRIMARY KEY (metric_date, hour_local, neighborhood, price_range, time_bucket, party_size)
);

-- Grain: metric_date, bucket_id, party_size. Open inventory of each watched bucket as of the last
-- trusted poll of that (bucket, party size) on metric_date (snapshot_at), against its baseline
-- (slots seen in the calibration polls). lead_days = bucket_date - metric_date. Feeds the 14-day
-- forward availability density (sum over the window) and supply compression (same lead time,
-- bucket_date - 7 observed on metric_date - 7).
CREATE TABLE supply_daily (
    metric_date     DATE NOT NULL,
    bucket_id       VARCHAR NOT NULL,
    party_size      SMALLINT NOT NULL,
    bucket_date     DATE NOT NULL,
    time_bucket     VARCHAR NOT NULL,
    lead_days       SMALLINT NOT NULL,
    snapshot_at     TIMESTAMP NOT NULL,
    open_slots      INTEGER NOT NULL,      -- slots open at snapshot_at
    open_venues     INTEGER NOT NULL,      -- venues with >= 1 open slot at snapshot_at
    baseline_slots  INTEGER NOT NULL,      -- slots in the bucket's baseline
    partial         BOOLEAN NOT NULL,
    PRIMARY KEY (metric_date, bucket_id, party_size)
);

-- Grain: provider, venue_id, as_of (last local day included), window_days (7 | 14), time_bucket
-- ('prime' | 'off_peak' | 'all'); party sizes summed (split in venue_rolling_party).
-- Window = [as_of - window_days + 1, as_of]; only days present in day_quality count (days_observed).
--   drops_per_day      drops / days_observed
--   release_share      release_drops / drops
--   km_median_s        Kaplan-Meier median time-to-close over the window's merged histogram
--                      (closed = event, expired/censored = censored; life-table correction c/2 per
--                      bin, log-linear interpolation inside the crossing bin); NULL if S never <= 0.5
--   km_median_lo_s/_hi_s  95% CI of that median: where S -/+ 1.96 * Greenwood SE crosses 0.5
--   median_close_s     plain median of the closed point durations (histogram, censored ignored)
--   mean_close_s       mean of closed point durations (exact sums)
--   fully_booked_share fully_booked_s / observed_s (time-weighted, observed time only)
--   volatility         population std-dev of the venue's daily drops over the observed days
--   volatility_cv      volatility / mean daily drops (NULL when mean = 0)
--   drops_last7 / drops_prev7 / trend_pct: days (as_of-6..as_of) vs (as_of-13..as_of-7), per-day
--                      rates; trend_pct = (last - prev) / prev * 100; trend = 'up'|'down'|'flat'
--                      (flat when |trend_pct| < 10 or either week has no observed day) -- same for both windows
--   scarcity_score     0-100, see SCARCITY below; ranked only among non-thin rows of the same
--                      (as_of, window_days, time_bucket); scarcity_rank 1 = hardest; NULL when thin
--   n = KM sample (closed_timed + censored); thin = n < min_sample
-- SCARCITY: "Scarcity (0-100) is the average of three percentile ranks among comparable venues:
-- share of observed time fully booked (higher is scarcer), drops per day (fewer is scarcer) and
-- median time-to-close (faster is scarcer)." A component that is NULL is left out of the average.
-- (Python constant: analytics.scores.SCARCITY_FORMULA.)
CREATE TABLE venue_rolling (
    provider            VARCHAR NOT NULL,
    venue_id            BIGINT NOT NULL,
    as_of               DATE NOT NULL,
    window_days         SMALLINT NOT NULL,
    time_bucket         VARCHAR NOT NULL,
    days_observed       INTEGER NOT NULL,
    partial_days        INTEGER NOT NULL,
    drops               INTEGER NOT NULL,
    drops_per_day       DOUBLE,
    release_drops       INTEGER NOT NULL,
    cancel_drops        INTEGER NOT NULL,
    release_share       DOUBLE,
    closed              INTEGER NOT NULL,
    closed_timed        INTEGER NOT NULL,
    censored            INTEGER NOT NULL,
    km_median_s         DOUBLE,
    km_median_lo_s      DOUBLE,
    km_median_hi_s      DOUBLE,
    median_close_s      DOUBLE,
    mean_close_s        DOUBLE,
    observed_s          DOUBLE NOT NULL,
    fully_booked_s      DOUBLE NOT NULL,
    fully_booked_share  DOUBLE,
    volatility          DOUBLE,
    volatility_cv       DOUBLE,
    drops_last7         INTEGER,
    drops_prev7         INTEGER,
    trend_pct           DOUBLE,
    trend               VARCHAR NOT NULL,
    scarcity_score      DOUBLE,
    scarcity_rank       INTEGER,
    n                   INTEGER NOT NULL,
    thin                BOOLEAN NOT NULL,
    PRIMARY KEY (provider, venue_id, as_of, window_days, time_bucket)
);

-- Grain: provider, venue_id, as_of, window_days, time_bucket ('prime'|'off_peak'|'all'), party_size.
-- Party-size split of the drops: share_of_drops = drops / all drops of the venue in that
-- (window, time_bucket). n = drops; thin = n < min_sample.
CREATE TABLE venue_rolling_party (
    provider        VARCHAR NOT NULL,
    venue_id        BIGINT NOT NULL,
    as_of           DATE NOT NULL,
    window_days     SMALLINT NOT NULL,
    time_bucket     VARCHAR NOT NULL,
    party_size      SMALLINT NOT NULL,
    drops           INTEGER NOT NULL,
    drops_per_day   DOUBLE,
    share_of_drops  DOUBLE,
    closed          INTEGER NOT NULL,
    mean_close_s    DOUBLE,
    n               INTEGER NOT NULL,
    thin            BOOLEAN NOT NULL,
    PRIMARY KEY (provider, venue_id, as_of, window_days, time_bucket, party_size)
);

-- Grain: as_of, window_days (7 | 14), time_bucket ('prime' | 'off_peak' | 'all').
--   drops_per_day          market drops / days_observed
--   volatility_index       100 x mean, over non-thin venues, of each venue's coefficient of
--                          variation of daily drops (std / mean) in this time bucket; compare prime
--                          vs off_peak for "prime time is 2x more volatile"
--   market_cv              std / mean of the market's daily drop totals
--   forward_open_slots     open slots at the last snapshot of as_of over the buckets with lead
--                          0..13 days (the 14-day forward window), forward_baseline_slots their
--                          baselines; forward_density = open / baseline
--   forward_open_ref       the same sum observed on as_of - 7 over its own 0..13-day window
--   compression_pct        (forward_open_slots - forward_open_ref) / forward_open_ref x 100
--                          (e.g. -34 = "supply tightened 34% vs a week earlier")
--   n = venues with >= 1 observed day; venues_ranked = non-thin venues in the index; thin =
--   venues_ranked < min_sample
CREATE TABLE market_rolling (
    as_of                   DATE NOT NULL,
    window_days             SMALLINT NOT NULL,
    time_bucket             VARCHAR NOT NULL,
    days_observed           INTEGER NOT NULL,
    partial_days            INTEGER NOT NULL,
    drops                   INTEGER NOT NULL,
    drops_per_day           DOUBLE,
    release_drops           INTEGER NOT NULL,
    volatility_index        DOUBLE,
    market_cv               DOUBLE,
    forward_open_slots      INTEGER,
    forward_baseline_slots  INTEGER,
    forward_density         DOUBLE,
    forward_open_ref        INTEGER,
    compression_pct         DOUBLE,
    n                       INTEGER NOT NULL,
    venues_ranked           INTEGER NOT NULL,
    thin                    BOOLEAN NOT NULL,
    PRIMARY KEY (as_of, window_days, time_bucket)
);

-- Grain: as_of, bucket_date, time_bucket ('prime'|'off_peak'|'all'), party_size (0 = all).
-- Supply compression at the same lead time: open inventory of bucket_date seen on as_of vs
-- (a) its baseline and (b) the bucket dated bucket_date - 7 seen on as_of - 7 (same weekday, same
-- lead). pct_* = (open_slots - ref) / ref x 100. "This weekend vs last" = SUM over the weekend's
-- bucket dates before taking the ratio (digest_/dash_ queries do that).
CREATE TABLE supply_compression (
    as_of               DATE NOT NULL,
    bucket_date         DATE NOT NULL,
    time_bucket         VARCHAR NOT NULL,
    party_size          SMALLINT NOT NULL,
    lead_days           SMALLINT NOT NULL,
    weekday             SMALLINT NOT NULL,   -- of bucket_date
    open_slots          INTEGER NOT NULL,
    baseline_slots      INTEGER NOT NULL,
    pct_vs_baseline     DOUBLE,
    ref_open_slots      INTEGER,             -- NULL when a week earlier was not observed
    pct_vs_week_before  DOUBLE,
    partial             BOOLEAN NOT NULL,
    PRIMARY KEY (as_of, bucket_date, time_bucket, party_size)
);

-- One row per nightly / aggregate / recompute run (a log, not a metric: ran_at differs per run).
CREATE TABLE nightly_runs (
    run_id          VARCHAR PRIMARY KEY,     -- kind|day|ran_at
    kind            VARCHAR NOT NULL,        -- 'nightly' | 'aggregate' | 'recompute'
    day             DATE,                    -- the day aggregated (last day for ranges)
    ran_at          TIMESTAMP NOT NULL,      -- UTC, from the injected clock
    rows_written    INTEGER NOT NULL,
    events_pruned   INTEGER NOT NULL DEFAULT 0,
    buckets_pruned  INTEGER NOT NULL DEFAULT 0,
    slots_expired   INTEGER NOT NULL DEFAULT 0,
    buckets_added   INTEGER NOT NULL DEFAULT 0,
    partial         BOOLEAN NOT NULL DEFAULT FALSE,
    duration_s      DOUBLE NOT NULL,
    status          VARCHAR NOT NULL,        -- 'ok' | 'error'
    detail          VARCHAR
);
