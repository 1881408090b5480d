"""lambda_publish_version's decisions, against moto's Lambda API in process.

When does $LATEST differ from the newest published version, and which version
is the newest: what the alias `live` follows. The playbook tests cover the
module as Ansible runs it.
"""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from ansible_collections.clickstream.aws.plugins.modules import lambda_publish_version as publish

REGION = "us-east-1"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


@pytest.fixture
def lam(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(
            FunctionName="fn",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip("x = 1\n")},
            Architectures=["arm64"],
            Publish=True,
        )
        yield client


def _state(client):
    latest = client.get_function_configuration(FunctionName="fn")
    newest = publish.newest_version(client, "fn")
    return publish.differences(latest, newest), newest


def test_a_fresh_version_has_no_differences(lam):
    differences, newest = _state(lam)
    assert differences == []
    assert newest["Version"] == "1"


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"Environment": {"Variables": {"LOG_LEVEL": "DEBUG"}}}, ["environment"]),
        ({"MemorySize": 512}, ["memory_size"]),
        ({"Timeout": 30}, ["timeout"]),
        ({"Handler": "other.handler"}, ["handler"]),
        ({"Description": "new"}, ["description"]),
        ({"MemorySize": 1024, "Timeout": 60}, ["memory_size", "timeout"]),
    ],
    ids=["environment", "memory", "timeout", "handler", "description", "two"],
)
def test_a_configuration_change_is_a_difference(lam, update, expected):
    lam.update_function_configuration(FunctionName="fn", **update)
    differences, newest = _state(lam)
    assert differences == expected
    assert newest["Version"] == "1"
    lam.publish_version(FunctionName="fn")
    assert _state(lam)[0] == []


def test_a_code_change_without_publishing_is_a_difference(lam):
    lam.update_function_code(FunctionName="fn", ZipFile=_zip("x = 2\n"), Publish=False)
    assert _state(lam)[0] == ["code"]


def test_no_version_yet_is_a_difference():
    assert publish.differences({"CodeSha256": "x"}, None) == ["no version published yet"]


def test_equivalent_empty_settings_are_not_differences():
    latest = {"CodeSha256": "x", "Environment": {"Variables": {}}, "Layers": [], "VpcConfig": {}}
    newest = {"CodeSha256": "x", "TracingConfig": {"Mode": "PassThrough"}}
    assert publish.differences(latest, newest) == []
    moved = {**newest, "VpcConfig": {"SubnetIds": ["b", "a"], "SecurityGroupIds": ["s"]}}
    same_vpc = {**latest, "VpcConfig": {"SubnetIds": ["a", "b"], "SecurityGroupIds": ["s"]}}
    assert publish.differences(same_vpc, moved) == []


def test_the_newest_version_is_the_highest_number(lam):
    for size in range(130, 141):  # versions 2..12: "9" sorts after "12" as text
        lam.update_function_configuration(FunctionName="fn", MemorySize=size)
        lam.publish_version(FunctionName="fn")
    newest = publish.newest_version(lam, "fn")
    assert newest["Version"] == "12"
    assert newest["MemorySize"] == 140
