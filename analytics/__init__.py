"""Derived data: SQL files plus small Python. Takes a DuckDB connection; knows nothing of Streamlit or HTTP."""
