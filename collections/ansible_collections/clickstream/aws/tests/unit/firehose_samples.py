"""Firehose records (as boto3 returns them) and module parameters shared by the
firehose_delivery_stream unit tests."""

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.clickstream.aws.plugins.modules.firehose_delivery_stream import (
    ARGUMENT_SPEC,
)

NAME = "clickstream-events"
ACCOUNT = "123456789012"
BUCKET_ARN = "arn:aws:s3:::clickstream-raw"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/clickstream-firehose"
STREAM_ARN = f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/{NAME}"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOG_GROUP = "/aws/kinesisfirehose/clickstream-events"


def params(**args):
    """The module's parameters for ``args`` as Ansible passes them: validated by the
    argument spec, every default filled in."""
    result = ArgumentSpecValidator(ARGUMENT_SPEC).validate(
        {"name": NAME, "bucket_arn": BUCKET_ARN, "role_arn": ROLE_ARN, **args}
    )
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def destination_record(**fields):
    """An ExtendedS3DestinationDescription as AWS returns it for the module's defaults."""
    return {
        "RoleARN": ROLE_ARN,
        "BucketARN": BUCKET_ARN,
        "Prefix": "events/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
        "CompressionFormat": "UNCOMPRESSED",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "CloudWatchLoggingOptions": {"Enabled": False},
        # Settings the module does not manage, as AWS describes them.
        "ProcessingConfiguration": {"Enabled": False},
        "S3BackupMode": "Disabled",
        "DynamicPartitioningConfiguration": {"Enabled": False},
        **fields,
    }


def stream_record(status="ACTIVE", encryption=None, version="1", destination=None, **fields):
    """A DeliveryStreamDescription of a Direct PUT stream into the raw bucket."""
    return {
        "DeliveryStreamName": NAME,
        "DeliveryStreamARN": STREAM_ARN,
        "DeliveryStreamStatus": status,
        "DeliveryStreamEncryptionConfiguration": encryption or {"Status": "DISABLED"},
        "DeliveryStreamType": "DirectPut",
        "VersionId": version,
        "Destinations": [
            {
                "DestinationId": "destinationId-000000000001",
                "ExtendedS3DestinationDescription": destination or destination_record(),
            }
        ],
        "HasMoreDestinations": False,
        **fields,
    }
