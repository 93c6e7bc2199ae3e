"""Write side of Tablepulse: providers, scheduler, diff, the single-writer store, nightly job, tracking endpoint."""
