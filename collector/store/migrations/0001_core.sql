-- 0001_core: the collector's write-side tables.
-- Conventions: every *_at column is a UTC instant stored as TIMESTAMP (naive, UTC);
-- slot_date / slot_time are venue-local as the provider sends them; *_local columns are the
-- venue-local wall time of an instant (for hour-of-day / weekday metrics without tz math in SQL).
-- Keys are exactly those dedupe needs; no secondary indexes (they slow bulk inserts, see DESIGN).

CREATE TABLE venues (
    provider       VARCHAR NOT NULL,
    venue_id       BIGINT NOT NULL,
    name           VARCHAR NOT NULL,
    neighborhood   VARCHAR,
    price_range    SMALLINT,
    cuisine        VARCHAR,
    tz             VARCHAR NOT NULL,
    lat            DOUBLE,
    lon            DOUBLE,
    first_seen_at  TIMESTAMP NOT NULL,
    last_seen_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, venue_id)
);

-- One row per (bucket, party size): the unit that is polled, baselined and cooled down.
CREATE TABLE buckets (
    bucket_id         VARCHAR NOT NULL,          -- 'YYYY-MM-DD_HH:MM'
    party_size        SMALLINT NOT NULL,
    bucket_date       DATE NOT NULL,
    time_slot         VARCHAR NOT NULL,          -- 'HH:MM'
    time_bucket       VARCHAR NOT NULL,          -- 'prime' | 'off_peak'
    created_at        TIMESTAMP NOT NULL,
    calibration_done  INTEGER NOT NULL DEFAULT 0, -- non-empty trusted calibration polls so far
    calibration_tries INTEGER NOT NULL DEFAULT 0, -- trusted calibration polls, empty ones included
    baseline_ready    BOOLEAN NOT NULL DEFAULT FALSE,
    baseline_slots    INTEGER NOT NULL DEFAULT 0,
    last_poll_at      TIMESTAMP,                 -- last poll of any outcome
    last_trusted_at   TIMESTAMP,                 -- last trusted poll (the "prev" of the diff)
    pending_collapse  BOOLEAN NOT NULL DEFAULT FALSE, -- a suspicious collapse waits for confirmation
    PRIMARY KEY (bucket_id, party_size)
);

-- Every poll, trusted or not, with why. Untrusted polls change no other table.
CREATE TABLE poll_ledger (
    poll_id       VARCHAR PRIMARY KEY,           -- deterministic: provider|bucket|party|started_at
    provider      VARCHAR NOT NULL,
    bucket_id     VARCHAR NOT NULL,
    party_size    SMALLINT NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP NOT NULL,
    phase         VARCHAR NOT NULL,              -- 'calibration' | 'live'
    trusted       BOOLEAN NOT NULL,
    outcome       VARCHAR NOT NULL,              -- 'ok' or an error class (see collector.providers.base.Outcome)
    detail        VARCHAR,
    http_status   INTEGER,
    pages         INTEGER NOT NULL DEFAULT 0,
    requests      INTEGER NOT NULL DEFAULT 0,
    venues_seen   INTEGER NOT NULL DEFAULT 0,
    slots_seen    INTEGER NOT NULL DEFAULT 0,
    n_new_drop    INTEGER NOT NULL DEFAULT 0,
    n_closed      INTEGER NOT NULL DEFAULT 0,
    n_expired     INTEGER NOT NULL DEFAULT 0,
    latency_ms    DOUBLE
);

-- Slots open right now (as of the bucket's last trusted poll): the diff's "prev".
CREATE TABLE open_slots (
    provider       VARCHAR NOT NULL,
    venue_id       BIGINT NOT NULL,
    slot_date      DATE NOT NULL,
    slot_time      TIME NOT NULL,
    party_size     SMALLINT NOT NULL,
    table_type     VARCHAR NOT NULL,
    bucket_id      VARCHAR NOT NULL,
    interval_id    VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,             -- 'baseline' | 'reopen' | 'drop' (see slot_intervals)
    opened_lo      TIMESTAMP,                    -- last trusted poll without it (NULL for baseline)
    opened_hi      TIMESTAMP NOT NULL,           -- first trusted poll with it
    last_seen_at   TIMESTAMP NOT NULL,           -- last trusted poll with it
    is_release     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (provider, venue_id, slot_date, slot_time, party_size, table_type)
);

-- The baseline of a (bucket, party size): union of its calibration polls (empty ones skipped).
CREATE TABLE baseline_slots (
    bucket_id      VARCHAR NOT NULL,
    party_size     SMALLINT NOT NULL,
    provider       VARCHAR NOT NULL,
    venue_id       BIGINT NOT NULL,
    slot_date      DATE NOT NULL,
    slot_time      TIME NOT NULL,
    table_type     VARCHAR NOT NULL,
    PRIMARY KEY (bucket_id, party_size, provider, venue_id, slot_time, table_type)
);

-- One row per finished open interval, kept for the whole history (metrics are recomputable).
-- Point duration (seed definition): closed_hi - opened_hi = first-absent minus first-seen.
-- True duration lies in [closed_lo - opened_hi, closed_hi - opened_lo] (interval-censored).
CREATE TABLE slot_intervals (
    interval_id    VARCHAR PRIMARY KEY,          -- provider|venue|date|time|party|type|opened_hi
    provider       VARCHAR NOT NULL,
    venue_id       BIGINT NOT NULL,
    slot_date      DATE NOT NULL,
    slot_time      TIME NOT NULL,
    party_size     SMALLINT NOT NULL,
    table_type     VARCHAR NOT NULL,
    bucket_id      VARCHAR NOT NULL,
    time_bucket    VARCHAR NOT NULL,             -- 'prime' | 'off_peak'
    source         VARCHAR NOT NULL,             -- 'baseline': seen in calibration (opened_lo NULL, left-censored);
                                                 -- 'reopen': a baseline slot that closed and opened again
                                                 --   (full bounds known, but not a NEW_DROP per DESIGN.md);
                                                 -- 'drop': a NEW_DROP
    is_release     BOOLEAN NOT NULL,             -- drop on the date that just entered the booking window
    opened_lo      TIMESTAMP,
    opened_hi      TIMESTAMP NOT NULL,
    closed_lo      TIMESTAMP NOT NULL,           -- last trusted poll with it
    closed_hi      TIMESTAMP,                    -- first trusted poll without it (NULL if censored by stop)
    end_reason     VARCHAR NOT NULL,             -- 'closed' | 'expired' | 'censored'
    duration_s     DOUBLE,                       -- closed_hi - opened_hi (NULL when closed_hi is NULL)
    opened_local   TIMESTAMP NOT NULL,           -- opened_hi in venue-local wall time
    ended_at       TIMESTAMP                     -- when the collector RECORDED the end: the poll that saw it
                                                 -- (= closed_hi for closed / expired-by-poll; the first poll
                                                 -- after the gap for 'censored'), or the nightly run's time for
                                                 -- an expiry at bucket retirement. Metrics put an end on the day
                                                 -- of ended_at, so a day is final once it is over. NULL only in
                                                 -- hand-written rows: read as coalesce(closed_hi, closed_lo).
);

-- Raw transitions; pruned nightly after aggregation (bucket_date < cutoff).
-- No key here on purpose: a poll's events are written in the same transaction as its poll_ledger
-- row, and a poll whose poll_id is already in the ledger writes nothing, so events are unique by
-- construction. A PRIMARY KEY made bulk inserts 2x slower (bench/write_path.py).
CREATE TABLE availability_events (
    event_id       VARCHAR NOT NULL,             -- interval_id|event_type (unique by construction)
    event_type     VARCHAR NOT NULL,             -- BASELINE_AVAILABLE | NEW_DROP | CLOSED | EXPIRED
    provider       VARCHAR NOT NULL,
    venue_id       BIGINT NOT NULL,
    slot_date      DATE NOT NULL,
    slot_time      TIME NOT NULL,
    party_size     SMALLINT NOT NULL,
    table_type     VARCHAR NOT NULL,
    bucket_id      VARCHAR NOT NULL,
    bucket_date    DATE NOT NULL,
    time_bucket    VARCHAR NOT NULL,
    interval_id    VARCHAR NOT NULL,
    observed_at    TIMESTAMP NOT NULL,           -- the trusted poll that saw the transition
    observed_local TIMESTAMP NOT NULL,
    prev_poll_at   TIMESTAMP,                    -- the trusted poll before it (lower bound)
    duration_s     DOUBLE,                       -- CLOSED only
    is_release     BOOLEAN NOT NULL DEFAULT FALSE,
    poll_id        VARCHAR NOT NULL
);

-- Key/value state of the service (breaker, last nightly run, ...).
CREATE TABLE service_state (
    key        VARCHAR PRIMARY KEY,
    value      VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- First sighting of any slot of a venue on a date. A NEW_DROP is a release (the date just
-- entered the venue's booking window) when its venue-date was first seen by a live poll at most
-- 15 minutes earlier with a wave of at least 2 new slots; later drops are cancellations.
CREATE TABLE venue_dates_seen (
    provider       VARCHAR NOT NULL,
    venue_id       BIGINT NOT NULL,
    slot_date      DATE NOT NULL,
    first_seen_at  TIMESTAMP NOT NULL,
    first_slots    INTEGER NOT NULL,             -- slots of that venue-date new in the first poll that saw it
    PRIMARY KEY (provider, venue_id, slot_date)
);
