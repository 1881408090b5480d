"""Each AWS layer of site.yml runs alone, on an account where the others are deployed.

``ansible-playbook site.yml --tags iam`` (or network, security, firehose, ec2, ...) runs
one layer; the layers it reads are not built in that run but found: the
aws_layers role listed before it in playbooks/aws.yml includes their roles'
read-only ``tasks/discover.yml``, which sets the facts a run of the role would
set, or fails naming the layer to run first (test_empty_account.py).

On the session's deployed foundation (conftest.py: after test_aws_foundation.py,
before test_teardown.py): the full run looked nothing up; each layer alone
changes nothing, finds exactly the layers it reads, runs only its own tasks,
and sees the same facts as the full run; ``--tags iam --check`` changes
nothing either. Every run's duration is printed (``-s``).
"""

from __future__ import annotations

import pytest

from ansible_moto import AWS_LAYERS, discovered_layers, published_facts, working_layers

pytestmark = pytest.mark.integration

# The layers whose facts each layer reads (see playbooks/aws.yml), which a run
# of that layer alone must find.
READS = {
    "storage": set(),
    "network": {"storage"},
    "security": {"network"},
    "logs": set(),
    "iam": {"storage", "logs"},
    "firehose": {"storage", "logs", "iam"},
    "ec2": {"network", "security", "iam"},
}


def test_the_full_run_builds_every_layer_and_looks_nothing_up(deployed_foundation):
    assert deployed_foundation.returncode == 0, deployed_foundation.output
    assert working_layers(deployed_foundation) == set(AWS_LAYERS)
    assert discovered_layers(deployed_foundation) == set()


@pytest.mark.parametrize("layer", list(AWS_LAYERS))
def test_each_layer_runs_alone_and_changes_nothing(deployed_foundation, run_aws, layer):
    result = run_aws("--tags", layer)
    assert result.returncode == 0, result.output
    assert result.changed == 0, result.changed_tasks()
    assert working_layers(result) == {layer}
    assert discovered_layers(result) == READS[layer]
    # What was found is what the full run had built, fact for fact.
    facts = published_facts(result)
    expected = published_facts(deployed_foundation)
    for found in READS[layer]:
        names = {name for name in expected if name.startswith(AWS_LAYERS[found] + "_")}
        assert {name: facts.get(name) for name in names} == {name: expected[name] for name in names}
    assert set(facts) <= set(expected)
    assert {name: expected[name] for name in facts} == facts


def test_a_layer_alone_in_check_mode_changes_nothing(deployed_foundation, run_aws):
    result = run_aws("--tags", "iam", "--check")
    assert result.returncode == 0, result.output
    assert result.changed == 0, result.changed_tasks()
    assert discovered_layers(result) == {"storage", "logs"}
    assert (
        published_facts(result)["aws_iam_ingest_role_arn"]
        == published_facts(deployed_foundation)["aws_iam_ingest_role_arn"]
    )


def test_the_lambdas_part_finds_every_layer_it_reads(deployed_foundation, run_aws):
    """``--tags lambdas`` leaves every layer out and finds what publishing the
    Lambdas reads (playbooks/aws.yml's last play), the delivery stream too
    (aws_firehose's tasks/discover.yml), fact for fact as the full run set them."""
    result = run_aws("--tags", "lambdas")
    assert result.returncode == 0, result.output
    assert result.changed == 0, result.changed_tasks()
    assert working_layers(result) == set()
    assert discovered_layers(result) == set(AWS_LAYERS)
    facts = published_facts(result)
    expected = published_facts(deployed_foundation)
    for name in ("aws_firehose_delivery_stream_name", "aws_firehose_delivery_stream_arn"):
        assert facts[name] == expected[name]
    assert {name: expected[name] for name in facts} == facts
