-- One row per poll (trusted or not). Written first: the poll_ids it returns are the polls new to the
-- file; a poll already in the ledger (re-applied, or replayed after a restart) writes nothing else.
MERGE INTO poll_ledger USING new_ledger n ON poll_ledger.poll_id = n.poll_id
WHEN NOT MATCHED THEN INSERT
RETURNING poll_id
