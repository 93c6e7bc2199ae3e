"""The bundled simulated market: model, virtual clock, faults, ground truth and a Resy-shaped HTTP server."""
