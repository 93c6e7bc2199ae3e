-- 0005_metric_keys: the big per-day and rolling metric tables lose their PRIMARY KEY constraint
-- (columns, types, NOT NULL and meaning unchanged; the grain is still the one 0002 documents).
--
-- Why: the nightly job rewrites these tables by delete-then-insert in one transaction, so the key
-- never deduplicated anything; it only cost time. Measured on the 10M-event bench window: inserting
-- the 14 days of venue_daily_hist (2.3M rows) took 2.5-3.5 s plus a 1.8-2.8 s commit with the key
-- (~0.7-1.5 s without), and DELETE of those rows took 36-42 s (0.06 s without). DuckDB only uses an
-- index for single-column equality lookups, so no reader lost an index scan. Uniqueness of the
-- grain is checked by tests/analytics/test_nightly.py instead. Kept: day_quality (one row a day,
-- the "aggregated" marker) and the small tables (supply_daily, market_rolling, supply_compression).

CREATE TABLE venue_daily_0005 (
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
    n                INTEGER NOT NULL,
    thin             BOOLEAN NOT NULL
    -- grain: provider, venue_id, metric_date, time_bucket, party_size
);
INSERT INTO venue_daily_0005 SELECT * FROM venue_daily;
DROP TABLE venue_daily;
ALTER TABLE venue_daily_0005 RENAME TO venue_daily;

CREATE TABLE venue_daily_hist_0005 (
    provider     VARCHAR NOT NULL,
    venue_id     BIGINT NOT NULL,
    metric_date  DATE NOT NULL,
    time_bucket  VARCHAR NOT NULL,
    party_size   SMALLINT NOT NULL,
    bin          SMALLINT NOT NULL,
    n_closed     INTEGER NOT NULL,
    n_censored   INTEGER NOT NULL,
    sum_s        DOUBLE NOT NULL
    -- grain: provider, venue_id, metric_date, time_bucket, party_size, bin
);
INSERT INTO venue_daily_hist_0005 SELECT * FROM venue_daily_hist;
DROP TABLE venue_daily_hist;
ALTER TABLE venue_daily_hist_0005 RENAME TO venue_daily_hist;

CREATE TABLE market_daily_0005 (
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
    venues         INTEGER NOT NULL,
    partial        BOOLEAN NOT NULL
    -- grain: metric_date, hour_local, neighborhood, price_range, time_bucket, party_size
);
INSERT INTO market_daily_0005 SELECT * FROM market_daily;
DROP TABLE market_daily;
ALTER TABLE market_daily_0005 RENAME TO market_daily;

CREATE TABLE venue_rolling_0005 (
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
    thin                BOOLEAN NOT NULL
    -- grain: provider, venue_id, as_of, window_days, time_bucket
);
INSERT INTO venue_rolling_0005 SELECT * FROM venue_rolling;
DROP TABLE venue_rolling;
ALTER TABLE venue_rolling_0005 RENAME TO venue_rolling;

CREATE TABLE venue_rolling_party_0005 (
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
    thin            BOOLEAN NOT NULL
    -- grain: provider, venue_id, as_of, window_days, time_bucket, party_size
);
INSERT INTO venue_rolling_party_0005 SELECT * FROM venue_rolling_party;
DROP TABLE venue_rolling_party;
ALTER TABLE venue_rolling_party_0005 RENAME TO venue_rolling_party;
