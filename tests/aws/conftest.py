"""Harness for the AWS foundation tests: a private moto server, ansible runs.

A fresh moto server is started once per session on a free 127.0.0.1 port
(never the lab's 5000) as a process of its own (``ansible_moto.moto_process``),
with AWS managed IAM policies loaded and the lab's fake Debian 12 AMIs
(``roles/lab/files/debian12_amis.json``) as its only AMIs (moto has no Debian
images; ``aws_ec2`` looks them up by owner 136693071363 and name pattern).
Playbooks run from the repository root with the lab inventory, pointed at that
server through AWS_ENDPOINT_URL, with dummy credentials in the environment (the
production inventory takes boto3's chain), and report through the json
callback so that the recap is parsed from data, not from text
(``ansible_moto.run_playbook``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests" / "fixtures") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))

import ansible_moto  # noqa: E402
from ansible_moto import DUMMY_CREDENTIALS, REGION, Moto, PlaybookRun  # noqa: E402


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    settings = {
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "MOTO_AMIS_PATH": str(REPO / "roles" / "lab" / "files" / "debian12_amis.json"),
    }
    log = REPO / ".state" / "tests-aws-moto.log"
    with ansible_moto.moto_process(log, settings) as server:
        yield server


@pytest.fixture(scope="session")
def aws(moto: Moto) -> Callable:
    """boto3 clients bound to the private moto server."""
    return moto.client


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
def run_playbook(moto: Moto) -> Callable[..., PlaybookRun]:
    """Run a playbook from the repository root against the private moto server."""

    def run(playbook: str, *args: str) -> PlaybookRun:
        # The lab inventory leaves the TLS-only bucket policy out (moto
        # ignores its condition); here its document is what is checked.
        tls_policy = ["-e", "aws_storage_deny_insecure_transport=true"]
        return ansible_moto.run_playbook(
            playbook, *tls_policy, *args, endpoint=moto.url, env=DUMMY_CREDENTIALS
        )

    return run


@pytest.fixture(scope="session")
def production_inventory(moto: Moto, tmp_path_factory):
    """inventories/production/aws_ec2.yml as ansible-inventory sees it, in the lab's region.

    Only the region differs from the file in the repository (moto serves the
    test deployment in us-east-1).
    """

    def load() -> dict:
        source = (REPO / "inventories/production/aws_ec2.yml").read_text()
        assert "  - ap-southeast-1\n" in source
        inventory = tmp_path_factory.mktemp("inventory") / "aws_ec2.yml"
        inventory.write_text(source.replace("  - ap-southeast-1\n", f"  - {REGION}\n"))
        proc = ansible_moto.run_ansible(
            "ansible-inventory",
            *("-i", str(inventory), "--list", "--export"),
            endpoint=moto.url,
            env=DUMMY_CREDENTIALS,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout, object_hook=_unwrap_unsafe)

    return load


def _unwrap_unsafe(value: dict):
    """ansible-inventory writes inventory-plugin strings as {"__ansible_unsafe": s}."""
    return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else value
