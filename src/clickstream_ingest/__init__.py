"""The ingest Lambda: API Gateway HTTP API -> S3 raw bucket (see handler)."""
