"""Harness for the AWS foundation tests: a private moto server, ansible runs.

A fresh moto server is started once per session on a free 127.0.0.1 port
(never the lab's 5000) as a process of its own (``ansible_moto.foundation_moto``:
AWS managed IAM policies loaded, the lab's fake Debian 12 AMIs as its only
images). Playbooks run from the repository root with the lab inventory,
pointed at that server through AWS_ENDPOINT_URL, with dummy credentials in the
environment (the production inventory takes boto3's chain), and report through
the json callback so that the recap is parsed from data, not from text
(``ansible_moto.run_playbook``).

The session deploys the foundation once (``deployed_foundation``: a full
playbooks/aws.yml run) and its files share it, in this order, which
``pytest_collection_modifyitems`` below keeps whatever order the files are
named in:

1. test_empty_account.py: a layer alone on the still empty account fails
   and creates nothing;
2. every other file, by name: test_aws_foundation.py (the full run is clean,
   a second run and --check change nothing, every resource read back,
   refusals), test_layer_tags.py (each layer alone on the deployed foundation);
3. test_teardown.py: playbooks/teardown.yml refuses production without the
   account id, then leaves nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ansible_moto
from ansible_moto import DUMMY_CREDENTIALS, REGION, Moto, PlaybookRun

REPO = Path(__file__).resolve().parents[2]

FIRST = "test_empty_account.py"
LAST = "test_teardown.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put this folder's tests in the order of the module's doc: FIRST's tests
    first, LAST's last, the rest in between as collected. Tests of other
    folders keep their places."""
    here = Path(__file__).resolve().parent
    slots = [index for index, item in enumerate(items) if item.path.resolve().parent == here]
    ours = [items[index] for index in slots]

    def stage(item: pytest.Item) -> int:
        return {FIRST: 0, LAST: 2}.get(item.path.name, 1)

    for index, item in zip(slots, sorted(ours, key=stage), strict=True):
        items[index] = item


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with ansible_moto.foundation_moto(REPO / ".state" / "tests-aws-moto.log") as server:
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
def run_aws(run_playbook, deploy_vars) -> Callable[..., PlaybookRun]:
    """playbooks/aws.yml with the test deployment's vars and ``args``; prints its
    duration (``-s``)."""

    def run(*args: str) -> PlaybookRun:
        started = time.monotonic()
        result = run_playbook("playbooks/aws.yml", "-e", f"@{deploy_vars}", *args)
        what = " ".join(args) or "(all)"
        print(f"\nplaybooks/aws.yml {what}: {time.monotonic() - started:.0f} s")
        return result

    return run


@pytest.fixture(scope="session")
def deployed_foundation(run_aws) -> PlaybookRun:
    """The session's full playbooks/aws.yml run, which every file after
    test_empty_account.py reads or builds on (test_aws_foundation.py judges it:
    test_first_run_is_clean); test_teardown.py removes it."""
    return run_aws()


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
