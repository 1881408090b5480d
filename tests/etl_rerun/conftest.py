"""Fixtures of the ETL schedule role and rerun playbook tests: a moto server per module.

The tests import ``etl_rerun_helpers`` and ``ansible_moto`` (the moto server,
ansible-playbook runs and their reports) from tests/fixtures by name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ansible_moto import threaded_moto


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free 127.0.0.1 port (never the lab's 5000)."""
    with threaded_moto() as server:
        yield server.url
