-- Grain: one row per alert (alert_id) whose first alert_sent (corrected_at) is in [$start, $end).
-- Definition: ordered funnel on skew-corrected server time (alert_events.corrected_at).
--   sent_at    first alert_sent of the alert; attributes (user, venue, drop, goal score) are taken
--              from that event ("attributed at alert_sent")
--   opened_at  first alert_opened with sent_at <= t <= sent_at + $tap_window_s
--   tapped_at  first tap_to_reserve with opened_at <= t <= sent_at + $tap_window_s (needs an open)
--   booked_at  first booking_confirmed with tapped_at <= t <= sent_at + $book_window_s (needs a tap)
-- The drop: drop_event_id is a slot_intervals.interval_id or its '<interval_id>|NEW_DROP' event id;
-- slot attributes come from slot_intervals (finished intervals) else open_slots + buckets (still
-- open). closed_lo / closed_hi / end_reason are NULL while the slot is still open.
-- Optional filters ($venue_id, $neighborhood, $time_bucket, $party_size): NULL means all.
WITH sent_ids AS (
    SELECT DISTINCT alert_id
    FROM alert_events
    WHERE event_type = 'alert_sent' AND corrected_at >= $start AND corrected_at < $end
),
ev AS (
    SELECT e.alert_id, e.event_type, e.corrected_at, e.user_id, e.venue_id, e.drop_event_id,
           e.goal_match_score
    FROM alert_events e
    JOIN sent_ids USING (alert_id)
),
sent AS (
    SELECT alert_id,
           min(corrected_at) AS sent_at,
           arg_min(user_id, corrected_at) AS user_id,
           arg_min_null(venue_id, corrected_at) AS alert_venue_id,
           arg_min_null(drop_event_id, corrected_at) AS drop_event_id,
           arg_min_null(goal_match_score, corrected_at) AS goal_match_score
    FROM ev
    WHERE event_type = 'alert_sent'
    GROUP BY alert_id
    HAVING min(corrected_at) >= $start AND min(corrected_at) < $end
),
opened AS (
    SELECT s.alert_id, min(e.corrected_at) AS opened_at
    FROM sent s JOIN ev e USING (alert_id)
    WHERE e.event_type = 'alert_opened'
      AND e.corrected_at >= s.sent_at
      AND e.corrected_at <= s.sent_at + to_seconds(CAST($tap_window_s AS BIGINT))
    GROUP BY s.alert_id
),
tapped AS (
    SELECT s.alert_id, min(e.corrected_at) AS tapped_at
    FROM sent s JOIN opened o USING (alert_id) JOIN ev e USING (alert_id)
    WHERE e.event_type = 'tap_to_reserve'
      AND e.corrected_at >= o.opened_at
      AND e.corrected_at <= s.sent_at + to_seconds(CAST($tap_window_s AS BIGINT))
    GROUP BY s.alert_id
),
booked AS (
    SELECT s.alert_id, min(e.corrected_at) AS booked_at
    FROM sent s JOIN tapped t USING (alert_id) JOIN ev e USING (alert_id)
    WHERE e.event_type = 'booking_confirmed'
      AND e.corrected_at >= t.tapped_at
      AND e.corrected_at <= s.sent_at + to_seconds(CAST($book_window_s AS BIGINT))
    GROUP BY s.alert_id
),
venue_nb AS (
    SELECT venue_id, any_value(neighborhood) AS neighborhood
    FROM venues
    GROUP BY venue_id
),
j AS (
    SELECT s.alert_id, s.user_id, s.sent_at, o.opened_at, t.tapped_at, b.booked_at,
           s.drop_event_id,
           coalesce(si.interval_id, os.interval_id) AS interval_id,
           coalesce(si.venue_id, os.venue_id, s.alert_venue_id) AS venue_id,
           coalesce(si.time_bucket, bk.time_bucket) AS time_bucket,
           coalesce(si.party_size, os.party_size) AS party_size,
           coalesce(si.slot_date, os.slot_date) AS slot_date,
           coalesce(si.slot_time, os.slot_time) AS slot_time,
           si.closed_lo, si.closed_hi, si.end_reason,
           s.goal_match_score
    FROM sent s
    LEFT JOIN opened o USING (alert_id)
    LEFT JOIN tapped t USING (alert_id)
    LEFT JOIN booked b USING (alert_id)
    LEFT JOIN slot_intervals si
        ON si.interval_id = regexp_replace(s.drop_event_id, '\|NEW_DROP$', '')
    LEFT JOIN open_slots os
        ON si.interval_id IS NULL AND os.interval_id = regexp_replace(s.drop_event_id, '\|NEW_DROP$', '')
    LEFT JOIN buckets bk
        ON bk.bucket_id = os.bucket_id AND bk.party_size = os.party_size
)
SELECT j.alert_id, j.user_id, j.sent_at, j.opened_at, j.tapped_at, j.booked_at,
       j.drop_event_id, j.interval_id, j.venue_id, v.neighborhood, j.time_bucket, j.party_size,
       j.slot_date, j.slot_time, j.closed_lo, j.closed_hi, j.end_reason, j.goal_match_score
FROM j
LEFT JOIN venue_nb v USING (venue_id)
WHERE ($venue_id IS NULL OR j.venue_id = $venue_id)
  AND ($neighborhood IS NULL OR v.neighborhood = $neighborhood)
  AND ($time_bucket IS NULL OR j.time_bucket = $time_bucket)
  AND ($party_size IS NULL OR j.party_size = $party_size)
ORDER BY j.sent_at, j.alert_id;
