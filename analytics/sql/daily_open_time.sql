-- daily_open_time: TEMP daily_open (grain: venue x day x time bucket x party size of [<d0>, <d1>)):
-- the observed seconds during which the venue had at least one open slot in a (bucket, party size),
-- summed over its buckets. venue_daily.sql reads it (open_s, fully_booked_s).
-- An interval is open at every trusted poll of its (bucket, party size) from its first sighting
-- (opened_hi) to its last (last_seen); its open time is the observed time of those polls' gaps. Each
-- interval is cut at midnight, and each piece is mapped onto the key's running sum of observed
-- seconds (observed_from = before its first poll, observed_to = through its last): a piece covers
-- exactly the range [observed_from, observed_to] of that sum, so the open time of a venue is the
-- length of the union of its pieces' ranges (overlapping intervals, several tables open at once,
-- count once).

CREATE OR REPLACE TEMP TABLE daily_keys AS      -- the (bucket, party size) with a gap, numbered
SELECT bucket_id, party_size, row_number() OVER (ORDER BY bucket_id, party_size) AS key_no
FROM (SELECT DISTINCT bucket_id, party_size FROM daily_gaps);

CREATE OR REPLACE TEMP TABLE daily_pieces AS    -- each interval cut at midnight
SELECT row_number() OVER () AS piece_no, i.provider, i.venue_id, i.is_prime, k.key_no, i.party_size,
       d.metric_date, greatest(i.opened_hi, d.day_start) AS piece_from,
       least(i.last_seen, d.day_end - INTERVAL 1 MICROSECOND) AS piece_to
FROM daily_intervals i
JOIN daily_keys k ON k.bucket_id = i.bucket_id AND k.party_size = i.party_size
JOIN daily_days d ON i.opened_hi < d.day_end AND i.last_seen >= d.day_start;

CREATE OR REPLACE TEMP TABLE daily_piece_ranges AS
WITH timeline AS (          -- at equal instants: a piece's start, then the gap, then a piece's end
    SELECT k.key_no, g.started_at AS instant, 1 AS kind, g.valid_s, NULL::BIGINT AS piece_no
    FROM daily_gaps g JOIN daily_keys k ON k.bucket_id = g.bucket_id AND k.party_size = g.party_size
    UNION ALL SELECT key_no, piece_from, 0, 0, piece_no FROM daily_pieces
    UNION ALL SELECT key_no, piece_to, 2, 0, piece_no FROM daily_pieces
), running AS (
    SELECT piece_no, kind,
           sum(valid_s) OVER (PARTITION BY key_no ORDER BY instant, kind ROWS UNBOUNDED PRECEDING) AS observed
    FROM timeline
)
SELECT piece_no, any_value(observed) FILTER (WHERE kind = 0) AS observed_from,
       any_value(observed) FILTER (WHERE kind = 2) AS observed_to
FROM running WHERE kind <> 1 GROUP BY piece_no;

CREATE OR REPLACE TEMP TABLE daily_open AS
WITH merged AS (
    SELECT p.provider, p.venue_id, p.metric_date, p.is_prime, p.party_size, r.observed_from, r.observed_to,
           max(r.observed_to) OVER (PARTITION BY p.provider, p.venue_id, p.is_prime, p.key_no, p.metric_date
                                    ORDER BY r.observed_from, r.observed_to
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_to
    FROM daily_pieces p JOIN daily_piece_ranges r USING (piece_no)
)
SELECT provider, venue_id, metric_date, is_prime, party_size,
       sum(greatest(0, observed_to - greatest(observed_from, coalesce(covered_to, observed_from)))) AS open_s
FROM merged GROUP BY ALL;
