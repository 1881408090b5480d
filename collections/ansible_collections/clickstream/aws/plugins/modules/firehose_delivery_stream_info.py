#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an Amazon Data Firehose delivery stream into S3."""

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402
from __future__ import annotations

DOCUMENTATION = r"""
---
module: firehose_delivery_stream_info
short_description: Read an Amazon Data Firehose delivery stream into an S3 bucket
version_added: 1.3.0
description:
  - Describes one delivery stream and its tags, and returns them in the shape that
    M(clickstream.aws.firehose_delivery_stream) takes and returns, so that a play can
    find a stream an earlier run created (its ARN, for instance) without changing it.
  - A missing stream is not an error; RV(exists) is then false.
author:
  - Clickstream platform team
options:
  name:
    description:
      - The delivery stream's name (1 to 64 letters, digits, C(.), C(_) or C(-)).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the stream an earlier run created
  clickstream.aws.firehose_delivery_stream_info:
    name: clickstream-events
  register: found

- name: Use its ARN
  ansible.builtin.debug:
    msg: "{{ found.delivery_stream.arn if found.exists else 'no stream' }}"
"""

RETURN = r"""
exists:
  description: Whether the stream exists (and is not being deleted).
  returned: always
  type: bool
delivery_stream:
  description:
    - The stream as AWS describes it, with every key that
      M(clickstream.aws.firehose_delivery_stream) returns in its own RV(delivery_stream)
      (identity, status and every setting under its option's name); empty when there
      is none. The keys a play most often reads are below.
  returned: always
  type: dict
  contains:
    name:
      description: The stream's name.
      type: str
      sample: clickstream-events
    arn:
      description: The stream's ARN, what C(firehose:PutRecordBatch) permissions name.
      type: str
      sample: arn:aws:firehose:eu-west-1:123456789012:deliverystream/clickstream-events
    status:
      description:
        - C(CREATING), C(ACTIVE), C(CREATING_FAILED), C(DELETING) or C(DELETING_FAILED).
      type: str
      sample: ACTIVE
"""

import contextlib

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.clickstream.aws.plugins.module_utils.firehose import (
    DeliveryStreamManager,
    FirehoseError,
    check_name,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError

ARGUMENT_SPEC = {"name": {"type": "str", "required": True}}


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    name = module.params["name"]
    manager = DeliveryStreamManager(
        module.client("firehose", retry_decorator=AWSRetry.jittered_backoff()), name
    )
    try:
        check_name(name)
        manager.load()
    except FirehoseError as e:
        module.fail_json(msg=str(e))
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"could not describe delivery stream {name}")
    stream = manager.result()
    module.exit_json(changed=False, exists=bool(stream), delivery_stream=stream)


if __name__ == "__main__":
    main()
