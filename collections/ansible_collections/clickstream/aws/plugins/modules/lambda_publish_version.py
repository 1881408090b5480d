#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publish a Lambda version when $LATEST differs from the newest one (role lambda_function)."""

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402
from __future__ import annotations

DOCUMENTATION = r"""
---
module: lambda_publish_version
short_description: Publish $LATEST as a new Lambda version only when it changed
version_added: 1.1.0
description:
  - C(amazon.aws.lambda) publishes a version when the code changes, but a
    configuration-only change (environment, memory, timeout, role, VPC...)
    stays on C($LATEST), so an alias on the newest version would keep the old
    configuration.
  - This module compares C($LATEST) with the newest published version (code
    checksum and every setting a version snapshots) and calls
    C(PublishVersion) only when they differ; it returns the newest version
    either way, which is what an alias should point at.
  - Check mode makes no writing call; O(assume_changed) lets a play say that
    an earlier task would have changed the function.
  - The module is in this collection's C(aws) action group, so a play's
    C(module_defaults) for C(group/clickstream.aws.aws) give it the same
    connection settings as the amazon.aws modules.
options:
  function_name:
    description: Name or ARN of the function.
    type: str
    required: true
  assume_changed:
    description:
      - In check mode only, report that a version would be published (an
        earlier task in the same check run would have changed the function).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Clickstream platform team
"""

EXAMPLES = r"""
- name: Update the function (a configuration change alone stays on $LATEST)
  amazon.aws.lambda:
    name: clickstream-lambda-ingest
    state: present
    memory_size: 256
  register: ingest_function

- name: Publish a version if the code or configuration changed
  clickstream.aws.lambda_publish_version:
    function_name: clickstream-lambda-ingest
    # in check mode, the update above would have changed $LATEST
    assume_changed: "{{ ingest_function is changed }}"
  register: ingest_version

- name: Point the alias at the newest version
  amazon.aws.lambda_alias:
    function_name: clickstream-lambda-ingest
    name: live
    function_version: "{{ ingest_version.version }}"
  when: ingest_version.version is not none

- name: The connection settings, from the play or on the task
  clickstream.aws.lambda_publish_version:
    function_name: arn:aws:lambda:eu-west-1:123456789012:function:clickstream-lambda-etl
    region: eu-west-1
    profile: clickstream-admin
"""

RETURN = r"""
version:
  description: The newest published version (after publishing); null in check mode when unknown.
  returned: always
  type: str
  sample: "7"
published:
  description: Whether a version was (or, in check mode, would be) published.
  returned: always
  type: bool
differences:
  description: The settings in which $LATEST differs from the newest version before publishing.
  returned: always
  type: list
  elements: str
function_arn:
  description: The function's unqualified ARN.
  returned: when the function exists
  type: str
code_sha256:
  description: CodeSha256 of the version returned.
  returned: when the function exists
  type: str
"""

import contextlib

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore

# What a published version snapshots and $LATEST can drift from. Each maps a
# configuration to a comparable value.
SNAPSHOT = {
    "code": lambda c: c.get("CodeSha256"),
    "runtime": lambda c: c.get("Runtime"),
    "handler": lambda c: c.get("Handler"),
    "role": lambda c: c.get("Role"),
    "memory_size": lambda c: c.get("MemorySize"),
    "timeout": lambda c: c.get("Timeout"),
    "description": lambda c: c.get("Description") or "",
    "environment": lambda c: (c.get("Environment") or {}).get("Variables") or {},
    "vpc": lambda c: (
        sorted((c.get("VpcConfig") or {}).get("SubnetIds") or []),
        sorted((c.get("VpcConfig") or {}).get("SecurityGroupIds") or []),
    ),
    "architectures": lambda c: c.get("Architectures") or ["x86_64"],
    "layers": lambda c: [layer.get("Arn") for layer in c.get("Layers") or []],
    "tracing": lambda c: (c.get("TracingConfig") or {}).get("Mode") or "PassThrough",
    "dead_letter": lambda c: (c.get("DeadLetterConfig") or {}).get("TargetArn"),
    "kms_key": lambda c: c.get("KMSKeyArn"),
    "ephemeral_storage": lambda c: (c.get("EphemeralStorage") or {}).get("Size") or 512,
    "logging": lambda c: c.get("LoggingConfig") or {},
    "file_systems": lambda c: c.get("FileSystemConfigs") or [],
}


def differences(latest: dict, newest: dict | None) -> list[str]:
    """The settings in which $LATEST differs from the newest published version."""
    if newest is None:
        return ["no version published yet"]
    return [name for name, value in SNAPSHOT.items() if value(latest) != value(newest)]


def newest_version(client, name: str) -> dict | None:
    """The published version with the highest number, or None."""
    paginator = client.get_paginator("list_versions_by_function")
    pages = paginator.paginate(FunctionName=name).build_full_result()
    versions = [v for v in pages["Versions"] if v["Version"] != "$LATEST"]
    return max(versions, key=lambda v: int(v["Version"]), default=None)


ARGUMENT_SPEC = {
    "function_name": {"type": "str", "required": True},
    "assume_changed": {"type": "bool", "default": False},
}


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    name = module.params["function_name"]
    client = module.client("lambda", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if not module.check_mode:
            # An update by an earlier task may still be in progress; publishing
            # before it ends would fail (or snapshot the old configuration).
            client.get_waiter("function_updated").wait(FunctionName=name)
        latest = client.get_function_configuration(FunctionName=name, aws_retry=True)
    except is_boto3_error_code("ResourceNotFoundException"):
        if module.check_mode:
            # Created by an earlier task of this check run: version 1 would follow.
            module.exit_json(changed=True, published=True, version=None, differences=["new"])
        module.fail_json(msg=f"Lambda function {name} does not exist")
    except (
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
        botocore.exceptions.WaiterError,
    ) as e:
        module.fail_json_aws(e, msg=f"Unable to read Lambda function {name}")

    try:
        newest = newest_version(client, name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Unable to list the versions of {name}")
    diff = differences(latest, newest)
    result = {"function_arn": latest["FunctionArn"], "differences": diff}

    if not diff:
        if module.check_mode and module.params["assume_changed"]:
            module.exit_json(changed=True, published=True, version=None, **result)
        module.exit_json(
            changed=False,
            published=False,
            version=newest["Version"],
            code_sha256=newest["CodeSha256"],
            **result,
        )
    if module.check_mode:
        module.exit_json(changed=True, published=True, version=None, **result)
    # CodeSha256 (and RevisionId where the API returns one): publish exactly
    # what was compared, or fail rather than snapshot a concurrent change.
    request = {"FunctionName": name, "CodeSha256": latest["CodeSha256"]}
    if latest.get("RevisionId"):
        request["RevisionId"] = latest["RevisionId"]
    try:
        published = client.publish_version(aws_retry=True, **request)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Unable to publish a version of {name}")
    changed = newest is None or published["Version"] != newest["Version"]
    module.exit_json(
        changed=changed,
        published=changed,
        version=published["Version"],
        code_sha256=published["CodeSha256"],
        **result,
    )


if __name__ == "__main__":
    main()
