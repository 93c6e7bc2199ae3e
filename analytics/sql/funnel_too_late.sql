-- Grain: one row (the whole selection of funnel_alert_rows).
-- Definition ("acted too late"): the slot of the alert's drop had already gone when the user acted.
-- The slot's end is interval-censored between closed_lo (last trusted poll that saw it open) and
-- closed_hi (first trusted poll without it); only intervals that ended ('closed' or 'expired',
-- closed_hi known) can make an action late.
--   too late:   action time > closed_hi          (certainly gone)
--   possibly:   closed_lo < action time <= closed_hi  (gone or going; poll cadence cannot tell)
-- Per step: opened_* uses opened_at over opened alerts, tapped_* uses tapped_at over tapped alerts.
-- acted = opened (a tap needs an open); acted_too_late = opened OR tapped after closed_hi, i.e. the
-- last of the two actions > closed_hi; too_late_share = acted_too_late / n_acted.
-- n_linked = alerts whose drop is found in slot_intervals / open_slots.
WITH a AS (
    SELECT *,
           closed_hi IS NOT NULL AND end_reason IN ('closed', 'expired') AS ended,
           coalesce(tapped_at, opened_at) AS last_action_at
    FROM funnel_alert_rows
)
SELECT count(*) AS n_alerts,
       count(interval_id) AS n_linked,
       count(opened_at) AS n_acted,
       count(*) FILTER (WHERE ended AND last_action_at > closed_hi) AS n_acted_too_late,
       count(*) FILTER (WHERE ended AND last_action_at > closed_lo AND last_action_at <= closed_hi)
           AS n_acted_possibly_late,
       count(opened_at) AS n_opened,
       count(*) FILTER (WHERE ended AND opened_at > closed_hi) AS n_opened_too_late,
       count(*) FILTER (WHERE ended AND opened_at > closed_lo AND opened_at <= closed_hi) AS n_opened_possibly_late,
       count(tapped_at) AS n_tapped,
       count(*) FILTER (WHERE ended AND tapped_at > closed_hi) AS n_tapped_too_late,
       count(*) FILTER (WHERE ended AND tapped_at > closed_lo AND tapped_at <= closed_hi) AS n_tapped_possibly_late,
       CASE WHEN count(opened_at) > 0
            THEN count(*) FILTER (WHERE ended AND last_action_at > closed_hi) / count(opened_at) END
           AS too_late_share,
       CASE WHEN count(opened_at) > 0
            THEN count(*) FILTER (WHERE ended AND last_action_at > closed_lo AND last_action_at <= closed_hi)
                 / count(opened_at) END AS possibly_late_share,
       CASE WHEN count(tapped_at) > 0
            THEN count(*) FILTER (WHERE ended AND tapped_at > closed_hi) / count(tapped_at) END
           AS tapped_too_late_share,
       count(*) AS n
FROM a;
