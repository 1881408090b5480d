"""Harness for the AWS foundation tests: a private moto server, ansible runs.

A fresh ``moto_server`` is started once per session on a free 127.0.0.1 port
(never the lab's 5000), with AWS managed IAM policies loaded and the lab's
fake Debian 12 AMIs (``roles/lab/files/debian12_amis.json``) as its only AMIs
(moto has no Debian images; ``aws_ec2`` looks them up by owner 136693071363
and name pattern).
Playbooks run from the repository root with the lab inventory, pointed at that
server through AWS_ENDPOINT_URL, and report through the json callback so that
the recap is parsed from data, not from text.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PlaybookRun:
    """Outcome of one ansible-playbook run."""

    returncode: int
    stats: dict[str, dict[str, int]]
    report: dict
    stderr: str

    def total(self, key: str) -> int:
        return sum(host.get(key, 0) for host in self.stats.values())

    def task_results(self):
        """(task name, host result) for every task result, loop items included."""
        for play in self.report.get("plays", []):
            for task in play.get("tasks", []):
                for result in task.get("hosts", {}).values():
                    yield task["task"]["name"], result

    def changed_tasks(self) -> list[str]:
        return [name for name, result in self.task_results() if result.get("changed")]

    def failure_messages(self) -> list[str]:
        """One message per failed task, or per failed loop item."""
        messages = []
        for name, result in self.task_results():
            items = [
                i
                for i in result.get("results", []) or []
                if isinstance(i, dict) and i.get("failed")
            ]
            if items:
                messages.extend(f"{name}: {item.get('msg', '')}" for item in items)
            elif result.get("failed"):
                messages.append(f"{name}: {result.get('msg', '')}")
        return messages

    def warnings(self) -> list[str]:
        """Warnings other than deprecation notices of the collections."""
        lines = [line for line in self.stderr.splitlines() if line.startswith("[WARNING]")]
        return [line for line in lines if "Deprecation warnings can be disabled" not in line]


@pytest.fixture(scope="session")
def moto_url():
    port = _free_port()
    env = {
        **os.environ,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "MOTO_AMIS_PATH": str(REPO / "roles" / "lab" / "files" / "debian12_amis.json"),
    }
    log = (REPO / ".state").joinpath("tests-aws-moto.log")
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"moto_server did not start on {url}; see {log}")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def aws(moto_url):
    """boto3 clients bound to the private moto server."""

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="session")
def public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    blob = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return blob.decode() + " tests@clickstream"


@pytest.fixture(scope="session")
def deploy_vars(public_key, tmp_path_factory) -> Path:
    """Extra vars of the test deployment: trusted and admin CIDRs, the key."""
    values = {
        "aws_ec2_public_key": public_key,
        "aws_security_groups_oltp_postgres_cidrs": ["203.0.113.0/24", "198.51.100.7/32"],
        "aws_security_groups_admin_ssh_cidrs": ["192.0.2.10/32"],
        "aws_security_groups_shiny_admin_cidrs": ["10.8.0.0/16"],
    }
    path = tmp_path_factory.mktemp("aws") / "vars.json"
    path.write_text(json.dumps(values))
    return path


@pytest.fixture(scope="session")
def ansible_env(moto_url) -> dict[str, str]:
    """Environment of every ansible command: the private moto server, JSON output."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        # ansible.cfg's profile_tasks/timer would print into the JSON.
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
    }


@pytest.fixture(scope="session")
def run_playbook(ansible_env):
    """Run a playbook from the repository root against the private moto server."""

    def run(playbook: str, *args: str) -> PlaybookRun:
        # The lab inventory leaves the TLS-only bucket policy out (moto
        # ignores its condition); here its document is what is checked.
        tls_policy = ["-e", "aws_storage_deny_insecure_transport=true"]
        proc = _ansible("ansible-playbook", [playbook, *tls_policy, *args], ansible_env)
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"no JSON from {playbook}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return PlaybookRun(proc.returncode, report.get("stats", {}), report, proc.stderr)

    return run


@pytest.fixture(scope="session")
def production_inventory(ansible_env, tmp_path_factory):
    """inventories/production/aws_ec2.yml as ansible-inventory sees it, in the lab's region.

    Only the region differs from the file in the repository (moto serves the
    test deployment in us-east-1).
    """

    def load() -> dict:
        source = (REPO / "inventories/production/aws_ec2.yml").read_text()
        assert "  - ap-southeast-1\n" in source
        inventory = tmp_path_factory.mktemp("inventory") / "aws_ec2.yml"
        inventory.write_text(source.replace("  - ap-southeast-1\n", f"  - {REGION}\n"))
        proc = _ansible(
            "ansible-inventory", ["-i", str(inventory), "--list", "--export"], ansible_env
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout, object_hook=_unwrap_unsafe)

    return load


def _ansible(command: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run an ansible command of the virtualenv from the repository root."""
    return subprocess.run(
        [str(VENV_BIN / command), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _unwrap_unsafe(value: dict):
    """ansible-inventory writes inventory-plugin strings as {"__ansible_unsafe": s}."""
    return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else value
