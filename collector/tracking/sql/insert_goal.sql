-- Stores one goal window; nothing when its goal_id is already stored (a retry).
-- Returns the goal_id when it was stored now.
INSERT INTO goals (goal_id, user_id, date_from, date_to, time_from, time_to, party_size, neighborhoods,
    venue_ids, created_at)
VALUES ($goal_id, $user_id, $date_from, $date_to, $time_from, $time_to, $party_size, $neighborhoods,
    $venue_ids, $created_at)
ON CONFLICT DO NOTHING
RETURNING goal_id;
