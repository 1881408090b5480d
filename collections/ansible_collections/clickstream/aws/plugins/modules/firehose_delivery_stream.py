#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage an Amazon Data Firehose Direct PUT delivery stream into S3."""

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402
from __future__ import annotations

DOCUMENTATION = r"""
---
module: firehose_delivery_stream
short_description: Manage an Amazon Data Firehose Direct PUT delivery stream into an S3 bucket
version_added: 1.2.0
description:
  - Creates, updates and deletes an Amazon Data Firehose (formerly Kinesis Data Firehose)
    delivery stream of type C(DirectPut) whose one destination is an S3 bucket
    (C(ExtendedS3DestinationConfiguration)).
  - The stream's settings are managed as a whole. Every option has a default, the one
    Firehose itself uses where there is one, so a setting that is not given is set to its
    default. Only O(tags) is left as it is when not given.
  - An existing stream is changed in place. C(UpdateDestination), with the stream's current
    version id and destination id, sends the destination fields that differ;
    C(StartDeliveryStreamEncryption) and C(StopDeliveryStreamEncryption) change server-side
    encryption; C(TagDeliveryStream) and C(UntagDeliveryStream) change tags.
  - A stream that is being created, deleted or encrypted is waited for before it is
    changed. After its own changes the module waits until the stream is C(ACTIVE) with
    its encryption in the state asked for, unless O(wait=false).
  - Check mode makes no writing call and reports what would change; with C(--diff), the
    settings before and after are shown, in the shape of the options.
  - All AWS calls are retried with jittered back-off on throttling and transient errors.
    C(CreateDeliveryStream) and C(UpdateDestination) are also retried, for up to two
    minutes, while Firehose answers that it is unable to assume the role or that the role
    is not authorized (a role or policy created a moment before is not usable by Firehose
    at once).
author:
  - Clickstream platform team
options:
  state:
    description:
      - V(present) creates or updates the stream; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - The delivery stream's name (1 to 64 letters, digits, C(.), C(_) or C(-)).
    type: str
    required: true
  bucket_arn:
    description:
      - ARN of the S3 bucket the stream delivers to, C(arn:aws:s3:::<bucket>).
      - Required with O(state=present).
    type: str
  role_arn:
    description:
      - ARN of the IAM role Firehose assumes to write to the bucket (and to the log stream,
        and to use the KMS keys). Its trust policy must let C(firehose.amazonaws.com)
        assume it.
      - Required with O(state=present).
    type: str
  prefix:
    description:
      - Key prefix of the objects Firehose writes.
      - A prefix without a C(!{timestamp:...}) expression gets Firehose's default time
        prefix C(yyyy/MM/dd/HH/) appended as it is written, so with the default
        V(events/) objects land under C(events/YYYY/MM/DD/HH/). The hour is that of the
        approximate arrival time (UTC) of the oldest record in the object, so an object
        can hold records that arrived up to one buffering interval after that hour.
      - Such a prefix must end with C(/) (the module refuses V(events), which AWS would
        turn into C(events2024/...)). A prefix with expressions needs
        O(error_output_prefix), and cannot contain C(!{firehose:error-output-type}).
      - V('') leaves only the time prefix.
    type: str
    default: events/
  error_output_prefix:
    description:
      - Key prefix of the records Firehose fails to process (data transformation, format
        conversion, dynamic partitioning); with expressions, it must contain
        C(!{firehose:error-output-type}).
      - The default keeps failed records outside O(prefix), by kind and hour.
      - V('') sets none; Firehose then writes them under
        C(<prefix><error-output-type>/YYYY/MM/DD/HH/).
    type: str
    default: errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/
  buffering_size:
    description:
      - Buffering hint, size in MiB (1 to 128); Firehose writes an object when this much
        data or O(buffering_interval) is reached, whichever comes first.
    type: int
    default: 5
  buffering_interval:
    description:
      - Buffering hint, interval in seconds (0 to 900).
    type: int
    default: 300
  compression:
    description:
      - Compression of the objects written.
    type: str
    choices: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]
    default: UNCOMPRESSED
  s3_kms_key_arn:
    description:
      - ARN of a KMS key (or alias) Firehose encrypts the objects with (SSE-KMS). When not
        set, Firehose asks for no encryption and the bucket's default encryption applies.
    type: str
  stream_encryption:
    description:
      - Server-side encryption of the data while Firehose holds it. Off when not set.
      - Turning it on, off or to another key on an existing stream calls
        C(StartDeliveryStreamEncryption) or C(StopDeliveryStreamEncryption); AWS allows
        25 of those calls per stream in 24 hours.
    type: dict
    suboptions:
      enabled:
        description: V(false) turns encryption off; the other keys are then ignored.
        type: bool
        default: true
      key_type:
        description:
          - V(AWS_OWNED_CMK), a key AWS owns and manages, or V(CUSTOMER_MANAGED_CMK), the
            key O(stream_encryption.key_arn).
        type: str
        choices: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]
        default: AWS_OWNED_CMK
      key_arn:
        description:
          - ARN of the customer managed KMS key (not an alias); only with
            O(stream_encryption.key_type=CUSTOMER_MANAGED_CMK), which requires it.
        type: str
  cloudwatch_logging:
    description:
      - Logging of delivery errors to a CloudWatch Logs log stream. Off when not set.
    type: dict
    suboptions:
      enabled:
        description: V(false) turns logging off; the other keys are then ignored.
        type: bool
        default: true
      log_group_name:
        description:
          - The log group's name. It must exist (M(amazon.aws.cloudwatchlogs_log_group));
            Firehose does not create it. Required when logging is on.
        type: str
      log_stream_name:
        description: The log stream's name in that group.
        type: str
        default: S3Delivery
      create_log_stream:
        description:
          - Create the log stream in the log group when it does not exist (Firehose does
            not, and no amazon.aws module creates log streams). The log stream is not
            deleted with the delivery stream.
        type: bool
        default: true
  wait:
    description:
      - Wait until the stream is C(ACTIVE) with its encryption as asked after creating it
        or changing its encryption, and until it is gone after deleting it.
      - A stream still busy with an earlier change is waited for before it is changed,
        whatever this option says.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds the module waits in all before it fails.
    type: int
    default: 600
notes:
  - Only Direct PUT streams with one S3 destination are managed. A stream of the name
    with another source or destination type is an error; delete it first.
  - Data transformation (Lambda), record format conversion, dynamic partitioning, S3
    backup, the file extension and the time zone of the prefix are not managed; an
    existing stream keeps what it has, a new one has none of them.
  - The IAM role needs C(s3:PutObject) (and C(s3:AbortMultipartUpload), C(s3:GetBucketLocation),
    C(s3:GetObject), C(s3:ListBucket), C(s3:ListBucketMultipartUploads)) on the bucket and
    its keys under O(prefix) and O(error_output_prefix), C(logs:PutLogEvents) on the log
    stream, and, with O(s3_kms_key_arn), C(kms:GenerateDataKey) and C(kms:Decrypt).
  - The deploying principal needs C(firehose:CreateDeliveryStream),
    C(firehose:DescribeDeliveryStream), C(firehose:UpdateDestination),
    C(firehose:DeleteDeliveryStream), C(firehose:ListTagsForDeliveryStream),
    C(firehose:TagDeliveryStream), C(firehose:UntagDeliveryStream),
    C(firehose:StartDeliveryStreamEncryption), C(firehose:StopDeliveryStreamEncryption),
    C(iam:PassRole) on the role, and C(logs:DescribeLogStreams) and
    C(logs:CreateLogStream) with O(cloudwatch_logging.create_log_stream).
  - >-
    moto (the local lab) implements every call the module makes, but it writes each
    C(PutRecord)/C(PutRecordBatch) to S3 at once as one object under
    C(<prefix>YYYY/MM/DD/HH/) (hour of the call, UTC) whatever the buffering hints and
    compression, evaluates no C(!{...}) expression and adds a C(/) after a prefix without
    one. A stream it creates is C(ACTIVE) at once and describes encryption set at creation
    without a C(Status); the module reads a key type without a status as C(ENABLED).
  - >-
    Connection settings (O(endpoint_url), O(region), credentials) are the ones every
    amazon.aws module takes; this module is in the collection's C(aws) action group, so
    C(module_defaults) for C(group/clickstream.aws.aws) reach it.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Direct PUT stream into the raw bucket, objects under events/YYYY/MM/DD/HH/
  clickstream.aws.firehose_delivery_stream:
    name: clickstream-events
    bucket_arn: arn:aws:s3:::clickstream-raw-123456789012
    role_arn: arn:aws:iam::123456789012:role/clickstream-firehose
    buffering_size: 64
    buffering_interval: 300
    compression: GZIP
    stream_encryption:
      key_type: AWS_OWNED_CMK
    cloudwatch_logging:
      log_group_name: /aws/kinesisfirehose/clickstream-events
    tags:
      project: clickstream
  register: events_stream

- name: The ingest Lambda writes to it
  ansible.builtin.debug:
    msg: "{{ events_stream.delivery_stream.arn }} ({{ events_stream.delivery_stream.status }})"

- name: Objects encrypted with a customer managed key, stream encrypted with another
  clickstream.aws.firehose_delivery_stream:
    name: clickstream-events
    bucket_arn: arn:aws:s3:::clickstream-raw-123456789012
    role_arn: arn:aws:iam::123456789012:role/clickstream-firehose
    s3_kms_key_arn: arn:aws:kms:eu-west-1:123456789012:alias/clickstream-raw
    stream_encryption:
      key_type: CUSTOMER_MANAGED_CMK
      key_arn: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab

- name: Against the lab's moto server, through the collection's action group
  module_defaults:
    group/clickstream.aws.aws:
      endpoint_url: http://127.0.0.1:5000
      region: us-east-1
      access_key: testing
      secret_key: testing
  block:
    - name: Same stream in the lab (moto writes each batch at once)
      clickstream.aws.firehose_delivery_stream:
        name: clickstream-events
        bucket_arn: arn:aws:s3:::clickstream-raw
        role_arn: arn:aws:iam::123456789012:role/clickstream-firehose

- name: Delete the stream, without waiting for it to be gone
  clickstream.aws.firehose_delivery_stream:
    name: clickstream-events
    state: absent
    wait: false
"""

RETURN = r"""
delivery_stream:
  description:
    - The stream after the task; empty when there is none (deleted, or absent).
    - Identity and status are as AWS last described them; in check mode the settings are
      the ones the task would set, and identity and status are null for a stream that
      would be created.
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
    delivery_stream_type:
      description: Always C(DirectPut).
      type: str
    version_id:
      description: The configuration's version; each C(UpdateDestination) adds one.
      type: str
      sample: "3"
    destination_id:
      description: The S3 destination's id.
      type: str
      sample: destinationId-000000000001
    create_timestamp:
      description: When the stream was created (ISO 8601).
      type: str
    last_update_timestamp:
      description: When the stream was last changed (ISO 8601).
      type: str
    encryption_status:
      description:
        - Server-side encryption status, C(ENABLED), C(ENABLING), C(ENABLING_FAILED),
          C(DISABLED), C(DISABLING) or C(DISABLING_FAILED).
      type: str
      sample: ENABLED
    bucket_arn:
      description: The destination bucket's ARN.
      type: str
    role_arn:
      description: The role Firehose assumes.
      type: str
    prefix:
      description: The objects' key prefix.
      type: str
      sample: events/
    error_output_prefix:
      description: The failed records' key prefix (empty when none is set).
      type: str
    buffering_size:
      description: Buffering hint in MiB.
      type: int
      sample: 5
    buffering_interval:
      description: Buffering hint in seconds.
      type: int
      sample: 300
    compression:
      description: The objects' compression.
      type: str
      sample: UNCOMPRESSED
    s3_kms_key_arn:
      description: The KMS key the objects are encrypted with, or null.
      type: str
    cloudwatch_logging:
      description: C(enabled), C(log_group_name) and C(log_stream_name) (null when off).
      type: dict
      sample: {enabled: true, log_group_name: /aws/kinesisfirehose/clickstream-events,
               log_stream_name: S3Delivery}
    stream_encryption:
      description: C(enabled), C(key_type) and C(key_arn) (null when not used).
      type: dict
      sample: {enabled: true, key_type: AWS_OWNED_CMK, key_arn: null}
    tags:
      description: The stream's tags.
      type: dict
operations:
  description: The writing API calls made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: [create_log_stream, create_delivery_stream]
"""

import contextlib

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.clickstream.aws.plugins.module_utils.firehose import (
    COMPRESSION_FORMATS,
    DEFAULT_ERROR_OUTPUT_PREFIX,
    DEFAULT_LOG_STREAM,
    DEFAULT_PREFIX,
    KEY_TYPES,
    DeliveryStreamManager,
    FirehoseError,
    build_desired,
    check_name,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "name": {"type": "str", "required": True},
    "bucket_arn": {"type": "str"},
    "role_arn": {"type": "str"},
    "prefix": {"type": "str", "default": DEFAULT_PREFIX},
    "error_output_prefix": {"type": "str", "default": DEFAULT_ERROR_OUTPUT_PREFIX},
    "buffering_size": {"type": "int", "default": 5},
    "buffering_interval": {"type": "int", "default": 300},
    "compression": {
        "type": "str",
        "choices": list(COMPRESSION_FORMATS),
        "default": "UNCOMPRESSED",
    },
    "s3_kms_key_arn": {"type": "str"},
    "stream_encryption": {
        "type": "dict",
        "options": {
            "enabled": {"type": "bool", "default": True},
            "key_type": {"type": "str", "choices": list(KEY_TYPES), "default": "AWS_OWNED_CMK"},
            "key_arn": {"type": "str"},
        },
    },
    "cloudwatch_logging": {
        "type": "dict",
        "options": {
            "enabled": {"type": "bool", "default": True},
            "log_group_name": {"type": "str"},
            "log_stream_name": {"type": "str", "default": DEFAULT_LOG_STREAM},
            "create_log_stream": {"type": "bool", "default": True},
        },
    },
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 600},
}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ["bucket_arn", "role_arn"])],
        supports_check_mode=True,
    )
    params = module.params
    retry = AWSRetry.jittered_backoff()
    manager = DeliveryStreamManager(
        module.client("firehose", retry_decorator=retry),
        params["name"],
        check_mode=module.check_mode,
        wait_timeout=max(params["wait_timeout"], 0),
        logs_client=lambda: module.client("logs", retry_decorator=retry),
    )
    try:
        if params["state"] == "present":
            desired = build_desired(params)
        else:
            check_name(params["name"])
        manager.load()
        before = manager.view()
        if params["state"] == "present":
            manager.ensure_present(desired, wait=params["wait"])
        else:
            manager.ensure_absent(wait=params["wait"])
        after = manager.view()
    except FirehoseError as e:
        module.fail_json(msg=str(e), operations=manager.operations)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=(
                f"Firehose call failed for delivery stream {params['name']} after "
                f"{manager.operations or 'no'} writes"
            ),
            operations=manager.operations,
        )

    output = {
        "changed": manager.changed,
        "operations": manager.operations,
        "delivery_stream": manager.result(),
    }
    if module._diff:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
