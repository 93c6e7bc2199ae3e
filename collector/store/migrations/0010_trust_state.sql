-- 0010_trust_state: what the trust rules (docs/trust-rules.md) keep per (bucket, party size).
-- collapse_since / collapse_answers: start of the first answer of the streak of suspicious answers
-- held against the last trusted state (NULL: nothing held), and how many answers agree so far. A
-- collapse is believed only when such answers themselves span collapse_confirm_s (and are at least
-- three), never by the silence of an outage before or between them. pending_collapse stays,
-- = collapse_since IS NOT NULL.
-- closes_seen / open_slot_s: the bucket's own history, over trusted answers at most max_gap_s
-- apart: slots seen to close, and open slot-seconds observed (open slots x seconds between two
-- trusted answers). Their ratio is the close rate that says how many slots may plausibly leave
-- between two answers of this bucket (rules E and L).
ALTER TABLE buckets ADD COLUMN collapse_since TIMESTAMP;
ALTER TABLE buckets ADD COLUMN collapse_answers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN closes_seen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN open_slot_s DOUBLE NOT NULL DEFAULT 0;
