-- 0003_tracking: what clients tell us about alerts (tracking endpoint) and users' goal windows.
-- Written only through the collector's single writer (collector/tracking/app.py).
-- Every *_at column is a naive UTC TIMESTAMP. Keys are exactly those dedupe needs.

-- One row per client event; message_id (client UUID, canonical lower-case form) dedupes forever.
-- occurred_at / sent_at are the client's clock, received_at the server's. The client clock offset
-- is sent_at - received_at (skew_raw_s); it is clamped to +-max_clock_skew_s (skew_s) and
-- corrected_at = occurred_at - skew_s = received_at - (sent_at - occurred_at) when not clamped.
CREATE TABLE alert_events (
    message_id        VARCHAR PRIMARY KEY,
    alert_id          VARCHAR NOT NULL,
    user_id           VARCHAR NOT NULL,
    event_type        VARCHAR NOT NULL,         -- alert_sent | alert_opened | tap_to_reserve | booking_confirmed
    occurred_at       TIMESTAMP NOT NULL,       -- client clock (UTC)
    sent_at           TIMESTAMP NOT NULL,       -- client clock (UTC) when the request was sent
    received_at       TIMESTAMP NOT NULL,       -- server clock (injected) when the request arrived
    corrected_at      TIMESTAMP NOT NULL,       -- occurred_at on the server clock (skew-corrected)
    skew_s            DOUBLE NOT NULL,          -- applied clock offset (client - server), clamped
    skew_raw_s        DOUBLE NOT NULL,          -- measured offset before clamping
    drop_event_id     VARCHAR,                  -- as given: a slot_intervals.interval_id or its '|NEW_DROP' event_id
    venue_id          BIGINT,
    goal_match_score  DOUBLE,                   -- in [0, 1]
    metadata          VARCHAR,                  -- JSON text (<= 32 KB); never filtered on
    write_key_id      VARCHAR NOT NULL          -- sha256 prefix of the write key used (never the key)
);

-- A user's goal window (seeds: goal-based monitoring). goal_id is a client UUID: retries are no-ops.
-- A drop matches a goal when its slot date, slot time and party size fall in the window and its
-- venue is in venue_ids / its neighborhood in neighborhoods (an empty list means any).
CREATE TABLE goals (
    goal_id        VARCHAR PRIMARY KEY,
    user_id        VARCHAR NOT NULL,
    date_from      DATE NOT NULL,
    date_to        DATE NOT NULL,               -- inclusive
    time_from      TIME NOT NULL,
    time_to        TIME NOT NULL,               -- inclusive
    party_size     SMALLINT NOT NULL,
    neighborhoods  VARCHAR[] NOT NULL,
    venue_ids      BIGINT[] NOT NULL,
    created_at     TIMESTAMP NOT NULL           -- server clock
);
