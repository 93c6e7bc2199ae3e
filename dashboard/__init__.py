"""Streamlit dashboard: reads the collector's published snapshot through short read-only connections."""
