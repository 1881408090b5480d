"""Fixtures: a moto server on a free port, and the local endpoint run as a real process
(tests/fixtures/local_endpoint.py, shared with tests/traffic)."""

from local_endpoint import (
    empty_bucket,
    function_env,
    ingest_endpoint,
    moto_endpoint,
    probe_dir,
    probe_endpoint,
    s3,
)

__all__ = [
    "empty_bucket",
    "function_env",
    "ingest_endpoint",
    "moto_endpoint",
    "probe_dir",
    "probe_endpoint",
    "s3",
]
