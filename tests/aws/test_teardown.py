"""playbooks/teardown.yml on the session's deployment, last (conftest.py).

After every other test of this folder has read or run layers on the deployed
foundation: a production teardown without the account id is refused and
changes nothing; with it, nothing of the project is left.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

PROJECT = "clickstream"
ACCOUNT = "123456789012"


def test_production_teardown_needs_the_account_id(deployed_foundation, run_playbook, aws):
    run = run_playbook("playbooks/teardown.yml", "-e", "platform_environment=production")
    assert run.returncode != 0
    (message,) = run.failure_messages()
    assert f"teardown_confirm={ACCOUNT}" in message
    assert run.total("changed") == 0
    assert aws("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": [PROJECT]}])["Vpcs"]


def test_teardown_leaves_nothing(deployed_foundation, run_playbook, aws):
    run = run_playbook(
        "playbooks/teardown.yml",
        "-e",
        "platform_environment=production",
        "-e",
        f"teardown_confirm={ACCOUNT}",
    )
    assert run.returncode == 0, run.failure_messages()
    assert run.warnings() == []

    ec2 = aws("ec2")
    tagged = [{"Name": "tag:Project", "Values": [PROJECT]}]
    assert ec2.describe_vpcs(Filters=tagged)["Vpcs"] == []
    assert ec2.describe_subnets(Filters=tagged)["Subnets"] == []
    assert ec2.describe_route_tables(Filters=tagged)["RouteTables"] == []
    assert ec2.describe_internet_gateways(Filters=tagged)["InternetGateways"] == []
    assert ec2.describe_security_groups(Filters=tagged)["SecurityGroups"] == []
    endpoints = ec2.describe_vpc_endpoints(Filters=tagged)["VpcEndpoints"]
    assert [e for e in endpoints if e["State"].lower() != "deleted"] == []
    live = ec2.describe_instances(
        Filters=[
            *tagged,
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )["Reservations"]
    assert live == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert [
        b["Name"] for b in aws("s3").list_buckets()["Buckets"] if b["Name"].startswith(PROJECT)
    ] == []
    iam = aws("iam")
    assert [
        r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PROJECT)
    ] == []
    profiles = iam.list_instance_profiles()["InstanceProfiles"]
    assert [
        p["InstanceProfileName"] for p in profiles if p["InstanceProfileName"].startswith(PROJECT)
    ] == []
    assert aws("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    groups = aws("logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups if PROJECT in g["logGroupName"]] == []
