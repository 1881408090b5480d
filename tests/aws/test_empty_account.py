"""A layer of site.yml alone on an empty account names the layer to run first.

``ansible-playbook site.yml --tags iam`` (or security, ...) runs one layer and
finds the layers it reads (see test_layer_tags.py); when one of them is not
deployed, the lookup fails naming the layer to run first, and nothing is
created. These tests run first in the session (conftest.py), on the session's
moto server before the foundation is deployed.
"""

from __future__ import annotations

import pytest

from ansible_moto import working_layers

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("layer", "opening", "first"),
    [
        ("iam", "The storage layer is not deployed (no bucket clickstream-raw-", "storage"),
        ("security", "no VPC tagged Project=clickstream, Name=clickstream-vpc", "network"),
    ],
)
def test_a_layer_alone_on_an_empty_account_names_the_layer_to_run_first(
    aws, run_aws, layer, opening, first
):
    assert aws("s3").list_buckets()["Buckets"] == [], "must run before the foundation is deployed"
    result = run_aws("--tags", layer)
    assert result.returncode != 0
    assert len(result.failure_messages()) == 1, result.output
    message = result.failure_messages()[0]
    assert message.startswith(opening), message
    assert message.endswith(f"run site.yml --tags {first} first."), message
    assert working_layers(result) == set()
    assert aws("iam").list_roles()["Roles"] == []
    vpcs = aws("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["clickstream"]}])[
        "Vpcs"
    ]
    assert vpcs == []
