-- measure_scarcity: THE scarcity score (DuckDB macro), used by venue_rolling and every ranking the
-- dashboard and the digest show. analytics.scores holds the same definition in words for display.
--
-- scarcity(venues): `venues` names a relation with one row per venue and columns peer_group (the
--   comparable set: e.g. one window and time bucket), venue_id, thin, fully_booked_share,
--   drops_per_day, km_median_s. Returns every input column plus:
--   scarcity_score (0-100) = 100 x the mean of three percent ranks among the non-thin venues of the
--     same peer group: fully-booked share (higher is scarcer), drops per day (fewer is scarcer) and
--     the median time-to-close (measure_time_to_close) (faster is scarcer; a median never reached ranks
--     slowest). A share or rate that cannot be computed is left out of the mean; thin rows get none.
--   scarcity_rank = 1 for the highest score of the peer group (ties: lower venue_id first).

CREATE OR REPLACE TEMP MACRO scarcity(venues) AS TABLE
WITH ranked AS (
    SELECT *,
           CASE WHEN NOT thin AND fully_booked_share IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY peer_group, thin, fully_booked_share IS NULL ORDER BY fully_booked_share) END AS rank_booked,
           CASE WHEN NOT thin AND drops_per_day IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY peer_group, thin, drops_per_day IS NULL ORDER BY drops_per_day DESC) END AS rank_few_drops,
           CASE WHEN NOT thin THEN percent_rank() OVER (
               PARTITION BY peer_group, thin ORDER BY km_median_s DESC NULLS FIRST) END AS rank_fast
    FROM query_table(venues)
), scored AS (
    SELECT * EXCLUDE (rank_booked, rank_few_drops, rank_fast),
           CASE WHEN NOT thin THEN 100 * (coalesce(rank_booked, 0) + coalesce(rank_few_drops, 0) + coalesce(rank_fast, 0))
                / ((rank_booked IS NOT NULL)::INT + (rank_few_drops IS NOT NULL)::INT + 1) END AS scarcity_score
    FROM ranked
)
SELECT *,
       CASE WHEN scarcity_score IS NOT NULL THEN row_number() OVER (
           PARTITION BY peer_group, scarcity_score IS NULL ORDER BY scarcity_score DESC, venue_id) END AS scarcity_rank
FROM scored;
