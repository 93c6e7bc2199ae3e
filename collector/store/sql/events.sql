-- Transitions of polls new to the ledger (the caller keeps only those: unique by construction).
INSERT INTO availability_events SELECT * FROM new_events
