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
import importlib.util
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT / "tests" / "fixtures") not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT / "tests" / "fixtures"))

import ansible_moto  # noqa: E402
from ansible_moto import Moto, PlaybookRun  # noqa: E402


def load_module(relative: str, name: str):
    """Import a role's module file (library/, action_plugins/) by path."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@pytest.fixture(scope="session")
def lambda_zip():
    """The lambda_package role's module, imported from its file."""
    return load_module("roles/lambda_package/library/lambda_zip.py", "lambda_zip_under_test")


@pytest.fixture(scope="session")
def publish_module():
    """The lambda_function role's lambda_publish_version module."""
    return load_module(
        "roles/lambda_function/library/lambda_publish_version.py", "lambda_publish_under_test"
    )


@pytest.fixture(scope="session")
def publish_action():
    """The action plugin that gives lambda_publish_version its connection defaults."""
    return load_module(
        "roles/lambda_function/action_plugins/lambda_publish_version.py",
        "publish_action_under_test",
    )
