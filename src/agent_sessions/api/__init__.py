"""The HTTP API (FastAPI) and the `Sessions` facade it calls."""
