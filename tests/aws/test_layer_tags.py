"""Each AWS layer of site.yml runs alone, on an account where the others are deployed.

``ansible-playbook site.yml --tags iam`` (or network, security, ec2, ...) runs
one layer; the layers it reads are not built in that run but found: the first
play of playbooks/aws.yml includes their roles' read-only ``tasks/discover.yml``,
which sets the facts a run of the role would set, or fails naming the layer to
run first.

On a moto server of this module's own (the session's server belongs to
test_aws_foundation.py, which tears its deployment down), in file order: a
layer alone on the empty account fails with the layer to run first and
creates nothing; the full playbook runs once and looks nothing up; then each
layer alone changes nothing, finds exactly the layers it reads, runs only its
own tasks, and sees the same facts as the full run; ``--tags iam --check``
changes nothing either. Every run's duration is printed (``-s``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ansible_moto
import pytest
from ansible_moto import DUMMY_CREDENTIALS, Moto, PlaybookRun

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = "playbooks/aws.yml"
LAYER_ROLES = {
    "storage": "aws_storage",
    "network": "aws_network",
    "security": "aws_security_groups",
    "logs": "aws_logs",
    "iam": "aws_iam",
    "ec2": "aws_ec2",
}
# The layers whose facts each layer reads (see playbooks/aws.yml), which a run
# of that layer alone must find.
READS = {
    "storage": set(),
    "network": {"storage"},
    "security": {"network"},
    "logs": set(),
    "iam": {"storage", "logs"},
    "ec2": {"network", "security", "iam"},
}
# Task files of a role that are not the layer's own work: the lookups, the
# facts published from them, and the input checks (argument validation runs
# for every role whatever the tags).
NOT_OWN_WORK = {"discover.yml", "outputs.yml", "names.yml", "find.yml", "ami.yml", "validate.yml"}


# --------------------------------------------------------------------- harness


@pytest.fixture(scope="module")
def own_moto() -> Iterator[Moto]:
    """A moto server for this module, set up like the session's (conftest.moto)."""
    settings = {
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "MOTO_AMIS_PATH": str(REPO / "roles" / "lab" / "files" / "debian12_amis.json"),
    }
    log = REPO / ".state" / "tests-aws-layer-tags-moto.log"
    with ansible_moto.moto_process(log, settings) as server:
        yield server


@pytest.fixture(scope="module")
def run(own_moto, deploy_vars) -> Callable[..., PlaybookRun]:
    """playbooks/aws.yml with the test deployment's vars and ``args``, timed."""

    def run_aws(*args: str) -> PlaybookRun:
        started = time.monotonic()
        result = ansible_moto.run_playbook(
            PLAYBOOK,
            "-e",
            f"@{deploy_vars}",
            *args,
            endpoint=own_moto.url,
            env=DUMMY_CREDENTIALS,
        )
        print(f"\n{PLAYBOOK} {' '.join(args) or '(all)'}: {time.monotonic() - started:.0f} s")
        return result

    return run_aws


def discovered(run: PlaybookRun) -> set[str]:
    """The layers whose discover tasks ran."""
    roles = {
        name.split(" : ", 1)[0]
        for name, result in run.task_results()
        if "arg spec 'discover'" in name and not result.get("skipped")
    }
    return {layer for layer, role in LAYER_ROLES.items() if role in roles}


def worked(run: PlaybookRun) -> set[str]:
    """The layers whose own tasks (not lookups nor checks) ran."""
    layers = set()
    for play in run.report["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            path = task["task"].get("path", "")
            if result.get("skipped") or "/roles/" not in path:
                continue
            role, _, rest = path.split("/roles/", 1)[1].partition("/tasks/")
            if rest.split(":")[0] not in NOT_OWN_WORK:
                layers.update(layer for layer, r in LAYER_ROLES.items() if r == role)
    return layers


def published(run: PlaybookRun) -> dict:
    """Every aws_* fact the run set, with its last value."""
    facts = {}
    for _, result in run.task_results():
        for name, value in (result.get("ansible_facts") or {}).items():
            if name.startswith("aws_"):
                facts[name] = value
    return facts


# ------------------------------------------------------------------- the runs


@pytest.mark.parametrize(
    ("layer", "opening", "first"),
    [
        ("iam", "The storage layer is not deployed (no bucket clickstream-raw-", "storage"),
        ("security", "no VPC tagged Project=clickstream, Name=clickstream-vpc", "network"),
    ],
)
def test_a_layer_alone_on_an_empty_account_names_the_layer_to_run_first(
    own_moto, run, layer, opening, first
):
    assert own_moto.client("s3").list_buckets()["Buckets"] == [], "must run before full_run"
    result = run("--tags", layer)
    assert result.returncode != 0
    assert len(result.failure_messages()) == 1, result.output
    message = result.failure_messages()[0]
    assert message.startswith(opening), message
    assert message.endswith(f"run site.yml --tags {first} first."), message
    assert worked(result) == set()
    assert own_moto.client("iam").list_roles()["Roles"] == []
    vpcs = own_moto.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:Project", "Values": ["clickstream"]}]
    )["Vpcs"]
    assert vpcs == []


@pytest.fixture(scope="module")
def full_run(run) -> PlaybookRun:
    result = run()
    assert result.returncode == 0, result.output
    return result


def test_the_full_run_builds_every_layer_and_looks_nothing_up(full_run):
    assert full_run.changed > 0
    assert worked(full_run) == set(LAYER_ROLES)
    assert discovered(full_run) == set()


@pytest.mark.parametrize("layer", list(LAYER_ROLES))
def test_each_layer_runs_alone_and_changes_nothing(full_run, run, layer):
    result = run("--tags", layer)
    assert result.returncode == 0, result.output
    assert result.changed == 0, result.changed_tasks()
    assert worked(result) == {layer}
    assert discovered(result) == READS[layer]
    # What was found is what the full run had built, fact for fact.
    facts = published(result)
    expected = published(full_run)
    for found in READS[layer]:
        names = {name for name in expected if name.startswith(LAYER_ROLES[found] + "_")}
        assert {name: facts.get(name) for name in names} == {name: expected[name] for name in names}
    assert set(facts) <= set(expected)
    assert {name: expected[name] for name in facts} == facts


def test_a_layer_alone_in_check_mode_changes_nothing(full_run, run):
    result = run("--tags", "iam", "--check")
    assert result.returncode == 0, result.output
    assert result.changed == 0, result.changed_tasks()
    assert discovered(result) == {"storage", "logs"}
    assert (
        published(result)["aws_iam_ingest_role_arn"]
        == (published(full_run)["aws_iam_ingest_role_arn"])
    )
