-- One row per poll (trusted or not). Written first: the poll_ids it returns are the polls new to the
-- file; a poll already in the ledger (re-applied, or replayed after a restart) writes nothing else.
INSERT INTO poll_ledger SELECT * FROM new_ledger
ON CONFLICT DO NOTHING
RETURNING poll_id
