"""The local lab's stand-in for the HTTP API: it serves the ingest zip (see local_api)."""
