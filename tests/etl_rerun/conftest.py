"""Fixtures of the ETL schedule role and rerun playbook tests: a moto server per module.

``etl_rerun_helpers`` (this folder) and ``ansible_moto`` (tests/fixtures: the
moto server, ansible-playbook runs and their reports) go on ``sys.path``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
for extra in (TESTS_DIR, TESTS_DIR.parent / "fixtures"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ansible_moto import threaded_moto  # noqa: E402


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free 127.0.0.1 port (never the lab's 5000)."""
    with threaded_moto() as server:
        yield server.url
