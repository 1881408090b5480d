"""Shared pieces of the Lambda deployment tests.

* ``moto``: one moto server (``ansible_moto.threaded_moto``) on a free
  127.0.0.1 port for the session; the inventory's ``aws_endpoint_url`` follows
  ``AWS_ENDPOINT_URL``.
* ``run_playbook``: ``ansible-playbook`` as an operator runs it (cwd at the
  project root, the project's ansible.cfg and default inventory), pointed at
  that server, with the JSON callback so the tests read each task's result and
  the recap (``ansible_moto.run_playbook``).
* ``make_wheel``: a real, minimal wheel for a given platform tag, so the
  dependency path of the packaging is tested against a local wheelhouse
  (``--no-index --find-links``) and not the network.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ansible_moto
from ansible_moto import Moto, PlaybookRun


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with ansible_moto.threaded_moto() as server:
        yield server


@pytest.fixture(scope="session")
def run_playbook(moto: Moto) -> Callable[..., PlaybookRun]:
    def run(playbook: str, *args: str, extra_vars: dict | None = None) -> PlaybookRun:
        return ansible_moto.run_playbook(playbook, *args, endpoint=moto.url, extra_vars=extra_vars)

    return run


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(folder: Path, name: str, version: str, tag: str, files: dict[str, str]) -> Path:
    """Write a minimal valid wheel ``<name>-<version>-<tag>.whl`` holding ``files``."""
    dist_info = f"{name}-{version}.dist-info"
    python_tag, abi_tag, platform_tag = tag.split("-")
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    contents[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: clickstream-tests\n"
        f"Root-Is-Purelib: {'true' if platform_tag == 'any' else 'false'}\n"
        f"Tag: {python_tag}-{abi_tag}-{platform_tag}\n"
    )
    records = [_record_line(path, data.encode()) for path, data in sorted(contents.items())]
    records.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = "\n".join(records) + "\n"
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in sorted(contents.items()):
            archive.writestr(path, data)
    return wheel


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """One dependency with a build per platform, each saying which one it is."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    for platform in ("manylinux2014_aarch64", "manylinux2014_x86_64"):
        make_wheel(
            folder,
            "cstest_native",
            "1.0",
            f"cp312-cp312-{platform}",
            {"cstest_native/__init__.py": f"PLATFORM = {platform!r}\nFLAGS = {{'a', 'b', 'c'}}\n"},
        )
    make_wheel(folder, "cstest_pure", "2.0", "py3-none-any", {"cstest_pure.py": "VALUE = 1\n"})
    return folder
