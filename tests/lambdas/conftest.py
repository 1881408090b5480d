"""Shared pieces of the Lambda deployment tests.

* ``moto``: one moto server (ThreadedMotoServer) on a free 127.0.0.1 port for
  the session; the inventory's ``aws_endpoint_url`` follows ``AWS_ENDPOINT_URL``.
* ``run_playbook``: ``ansible-playbook`` as an operator runs it (cwd at the
  project root, the project's ansible.cfg and default inventory), with the
  JSON callback so the tests read each task's result and the recap.
* ``make_wheel``: a real, minimal wheel for a given platform tag, so the
  dependency path of the packaging is tested against a local wheelhouse
  (``--no-index --find-links``) and not the network.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
REGION = "us-east-1"  # the local inventory's aws_region


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_module(relative: str, name: str):
    """Import a role's module file (library/, action_plugins/) by path."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Moto:
    url: str

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield Moto(f"http://{host}:{port}")
    server.stop()


@dataclass
class PlaybookRun:
    returncode: int
    output: dict
    stdout: str
    stderr: str

    @property
    def stats(self) -> dict:
        return self.output["stats"]["localhost"]

    @property
    def changed(self) -> int:
        return self.stats["changed"]

    def results(self, name_part: str) -> list[dict]:
        """Results of the tasks whose name contains ``name_part`` (all plays)."""
        return [
            task["hosts"]["localhost"]
            for play in self.output["plays"]
            for task in play["tasks"]
            if name_part in task["task"]["name"] and "localhost" in task["hosts"]
        ]

    def changed_tasks(self) -> list[str]:
        return [
            task["task"]["name"]
            for play in self.output["plays"]
            for task in play["tasks"]
            if task["hosts"].get("localhost", {}).get("changed")
        ]


@pytest.fixture(scope="session")
def run_playbook(moto: Moto) -> Callable[..., PlaybookRun]:
    def run(playbook: str, *args: str, extra_vars: dict | None = None) -> PlaybookRun:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": moto.url,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
        }
        command = [str(ANSIBLE_PLAYBOOK), playbook, *args]
        if extra_vars:
            command += ["--extra-vars", json.dumps(extra_vars)]
        proc = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        try:
            output = json.loads(proc.stdout[proc.stdout.index("{") :])
        except ValueError:
            output = {}
        return PlaybookRun(proc.returncode, output, proc.stdout, proc.stderr)

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
