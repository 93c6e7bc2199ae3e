-- Stores a batch of alert events; one row per new message_id, none for one already stored (a
-- retry), so running it twice stores nothing twice. Returns the message_ids stored now.
-- tracking_events (registered Arrow table): the events as sent, with received_at and write_key_id.
-- $max_skew_s: the largest client clock offset corrected (seconds).
-- Skew: the client clock's offset is sent_at - received_at (network time ignored), clamped to
-- +-$max_skew_s and removed from occurred_at: corrected_at is occurred_at on the server clock.
INSERT INTO alert_events (message_id, alert_id, user_id, event_type, occurred_at, sent_at, received_at,
    corrected_at, skew_s, skew_raw_s, drop_event_id, venue_id, goal_match_score, metadata, write_key_id)
SELECT message_id, alert_id, user_id, event_type, occurred_at, sent_at, received_at,
    occurred_at - to_microseconds(applied_us), applied_us / 1e6, raw_us / 1e6,
    drop_event_id, venue_id, goal_match_score, metadata, write_key_id
FROM (
    SELECT *, greatest(-$max_skew_s * 1000000, least($max_skew_s * 1000000, raw_us))::BIGINT AS applied_us
    FROM (SELECT *, epoch_us(sent_at) - epoch_us(received_at) AS raw_us FROM tracking_events)
)
ON CONFLICT DO NOTHING
RETURNING message_id;
