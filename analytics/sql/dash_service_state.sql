-- dash_service_state: every key/value the collector service publishes (breaker state, last nightly
-- run, ...), newest first.
SELECT key, value, updated_at FROM service_state ORDER BY key;
