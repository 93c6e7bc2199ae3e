-- Transitions of polls new to the ledger (the caller keeps only those: unique by construction).
INSERT INTO availability_events BY NAME SELECT * FROM new_events
