"""firehose_delivery_stream's desired state, comparison and requests, without AWS.

These functions decide whether a run changes anything and what it sends:
build_desired (defaults and the checks made before any call), settings_view
(what AWS, or moto, describes), destination_update (the UpdateDestination
request) and encryption_change (Start/StopDeliveryStreamEncryption).
"""

import botocore.exceptions
import pytest

from ansible_collections.clickstream.aws.plugins.module_utils import firehose as m
from ansible_collections.clickstream.aws.tests.unit.firehose_samples import (
    BUCKET_ARN,
    KEY_ARN,
    LOG_GROUP,
    ROLE_ARN,
    destination_record,
    params,
    stream_record,
)

DEFAULT_SETTINGS = {
    "bucket_arn": BUCKET_ARN,
    "role_arn": ROLE_ARN,
    "prefix": "events/",
    "error_output_prefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
    "buffering_size": 5,
    "buffering_interval": 300,
    "compression": "UNCOMPRESSED",
    "s3_kms_key_arn": None,
    "cloudwatch_logging": {"enabled": False, "log_group_name": None, "log_stream_name": None},
    "stream_encryption": {"enabled": False, "key_type": None, "key_arn": None},
}


def settings(**args):
    return m.build_desired(params(**args))["settings"]


# -- build_desired -------------------------------------------------------------------


def test_defaults_are_firehoses_own_and_the_events_prefix():
    desired = m.build_desired(params())
    assert desired == {"settings": DEFAULT_SETTINGS, "create_log_stream": False}


def test_every_setting_given():
    desired = m.build_desired(
        params(
            prefix="raw/",
            error_output_prefix="",
            buffering_size=128,
            buffering_interval=0,
            compression="GZIP",
            s3_kms_key_arn="arn:aws:kms:eu-west-1:123456789012:alias/raw",
            stream_encryption={"key_type": "CUSTOMER_MANAGED_CMK", "key_arn": KEY_ARN},
            cloudwatch_logging={"log_group_name": LOG_GROUP, "create_log_stream": False},
            tags={"project": "clickstream", "cost": 7},
            purge_tags=False,
        )
    )
    assert desired == {
        "settings": {
            **DEFAULT_SETTINGS,
            "prefix": "raw/",
            "error_output_prefix": "",
            "buffering_size": 128,
            "buffering_interval": 0,
            "compression": "GZIP",
            "s3_kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/raw",
            "stream_encryption": {
                "enabled": True,
                "key_type": "CUSTOMER_MANAGED_CMK",
                "key_arn": KEY_ARN,
            },
            "cloudwatch_logging": {
                "enabled": True,
                "log_group_name": LOG_GROUP,
                "log_stream_name": "S3Delivery",
            },
        },
        "create_log_stream": False,
        "tags": {"project": "clickstream", "cost": "7"},
        "purge_tags": False,
    }


def test_logging_creates_its_log_stream_unless_told_not_to():
    on = m.build_desired(params(cloudwatch_logging={"log_group_name": LOG_GROUP}))
    assert on["create_log_stream"] is True
    off = m.build_desired(params(cloudwatch_logging={"enabled": False, "log_group_name": "x"}))
    assert off["create_log_stream"] is False
    assert off["settings"]["cloudwatch_logging"]["enabled"] is False


def test_disabled_encryption_ignores_its_other_keys():
    encryption = {"enabled": False, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": "x"}
    assert settings(stream_encryption=encryption)["stream_encryption"] == {
        "enabled": False,
        "key_type": None,
        "key_arn": None,
    }


@pytest.mark.parametrize(
    ("prefix", "error_prefix"),
    [
        ("", ""),  # the time prefix alone
        ("events/", ""),  # failed records under events/<error-output-type>/...
        ("year=!{timestamp:yyyy}/", "errors/!{firehose:error-output-type}/"),
        ("events-!{timestamp:yyyy-MM-dd}", "errors/!{firehose:error-output-type}"),
        ("events/", "errors/"),  # no expression, no rule about error-output-type
    ],
)
def test_prefixes_firehose_accepts(prefix, error_prefix):
    chosen = settings(prefix=prefix, error_output_prefix=error_prefix)
    assert (chosen["prefix"], chosen["error_output_prefix"]) == (prefix, error_prefix)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "click stream"}, "name 'click stream' must be 1 to 64 letters"),
        ({"name": "x" * 65}, "must be 1 to 64 letters"),
        ({"bucket_arn": None}, "bucket_arn is required when state=present"),
        ({"role_arn": ""}, "role_arn is required when state=present"),
        ({"bucket_arn": "clickstream-raw"}, "bucket_arn 'clickstream-raw' is not an S3 bucket"),
        ({"role_arn": "clickstream-firehose"}, "is not an IAM role ARN"),
        ({"prefix": "events"}, "prefix 'events' must end with '/'"),
        (
            {"prefix": "!{firehose:error-output-type}/"},
            "prefix cannot contain !{firehose:error-output-type}",
        ),
        (
            {"prefix": "events/!{timestamp:yyyy}/", "error_output_prefix": ""},
            "error_output_prefix must be set when prefix contains",
        ),
        (
            {"error_output_prefix": "errors/!{timestamp:yyyy}/"},
            "error_output_prefix with expressions must contain",
        ),
        ({"prefix": "e/" * 513}, "prefix is longer than 1024 characters"),
        ({"buffering_size": 0}, "buffering_size must be between 1 and 128 MiB, got 0"),
        ({"buffering_size": 129}, "buffering_size must be between 1 and 128 MiB, got 129"),
        ({"buffering_interval": -1}, "buffering_interval must be between 0 and 900 seconds"),
        ({"buffering_interval": 901}, "buffering_interval must be between 0 and 900 seconds"),
        ({"s3_kms_key_arn": "alias/raw"}, "s3_kms_key_arn 'alias/raw' is not a KMS key"),
        (
            {"stream_encryption": {"key_type": "CUSTOMER_MANAGED_CMK"}},
            "stream_encryption.key_arn is required with CUSTOMER_MANAGED_CMK",
        ),
        (
            {
                "stream_encryption": {
                    "key_type": "CUSTOMER_MANAGED_CMK",
                    "key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/raw",
                }
            },
            "an alias is not accepted",
        ),
        (
            {"stream_encryption": {"key_arn": KEY_ARN}},
            "stream_encryption.key_arn only applies to CUSTOMER_MANAGED_CMK",
        ),
        (
            {"cloudwatch_logging": {}},
            "cloudwatch_logging.log_group_name is required when logging is on",
        ),
        (
            {"cloudwatch_logging": {"log_group_name": "errors:firehose"}},
            "must be a log group name",
        ),
        (
            {"cloudwatch_logging": {"log_group_name": LOG_GROUP, "log_stream_name": "a*"}},
            "log_stream_name 'a*' must be 1 to 512 characters without ':' or '*'",
        ),
    ],
)
def test_bad_input_is_refused_before_any_call(args, message):
    with pytest.raises(m.FirehoseError) as error:
        m.build_desired(params(**args))
    assert message in str(error.value)


# -- views of what AWS describes ------------------------------------------------------


def test_an_aws_description_of_the_defaults_is_the_default_settings():
    view = m.settings_view(stream_record(), {"project": "clickstream"})
    assert view == {**DEFAULT_SETTINGS, "tags": {"project": "clickstream"}}


def test_a_description_that_leaves_fields_out_reads_as_firehoses_defaults():
    # moto describes only what the request set; an old stream may lack a field
    bare = {"RoleARN": ROLE_ARN, "BucketARN": BUCKET_ARN}
    stream = stream_record(destination=bare)
    del stream["DeliveryStreamEncryptionConfiguration"]
    assert m.settings_view(stream, {}) == {
        **DEFAULT_SETTINGS,
        "prefix": "",
        "error_output_prefix": "",
        "tags": {},
    }


def test_kms_and_logging_are_read_back():
    destination = destination_record(
        EncryptionConfiguration={"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY_ARN}},
        CloudWatchLoggingOptions={
            "Enabled": True,
            "LogGroupName": LOG_GROUP,
            "LogStreamName": "S3Delivery",
        },
    )
    view = m.destination_view(destination)
    assert view["s3_kms_key_arn"] == KEY_ARN
    assert view["cloudwatch_logging"] == {
        "enabled": True,
        "log_group_name": LOG_GROUP,
        "log_stream_name": "S3Delivery",
    }


def test_names_kept_while_logging_is_off_are_not_compared():
    destination = destination_record(
        CloudWatchLoggingOptions={"Enabled": False, "LogGroupName": LOG_GROUP}
    )
    assert m.destination_view(destination)["cloudwatch_logging"] == {
        "enabled": False,
        "log_group_name": None,
        "log_stream_name": None,
    }


@pytest.mark.parametrize(
    ("config", "status", "enabled"),
    [
        (None, "DISABLED", False),
        ({"Status": "DISABLED", "KeyType": "AWS_OWNED_CMK"}, "DISABLED", False),
        ({"KeyType": "AWS_OWNED_CMK"}, "ENABLED", True),  # moto, set at creation
        ({"KeyType": "AWS_OWNED_CMK", "Status": "ENABLED"}, "ENABLED", True),
        ({"KeyType": "AWS_OWNED_CMK", "Status": "ENABLING"}, "ENABLING", True),
        ({"KeyType": "AWS_OWNED_CMK", "Status": "ENABLING_FAILED"}, "ENABLING_FAILED", False),
        ({"KeyType": "AWS_OWNED_CMK", "Status": "DISABLING"}, "DISABLING", False),
        ({"KeyType": "AWS_OWNED_CMK", "Status": "DISABLING_FAILED"}, "DISABLING_FAILED", True),
    ],
)
def test_encryption_status_and_whether_it_counts_as_on(config, status, enabled):
    assert m.encryption_status(config) == status
    assert m.encryption_view(config)["enabled"] is enabled


def test_a_customer_key_is_read_back_an_aws_owned_one_has_no_arn():
    customer = {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY_ARN, "Status": "ENABLED"}
    assert m.encryption_view(customer) == {
        "enabled": True,
        "key_type": "CUSTOMER_MANAGED_CMK",
        "key_arn": KEY_ARN,
    }
    owned = {"KeyType": "AWS_OWNED_CMK", "KeyARN": "arn:aws:kms:...", "Status": "ENABLED"}
    assert m.encryption_view(owned)["key_arn"] is None


def test_a_stream_of_another_source_is_refused():
    with pytest.raises(m.FirehoseError, match="is a KinesisStreamAsSource stream, not DirectPut"):
        m.settings_view(stream_record(DeliveryStreamType="KinesisStreamAsSource"), {})


def test_a_stream_of_another_destination_is_refused():
    stream = stream_record()
    stream["Destinations"] = [
        {"DestinationId": "destinationId-000000000001", "RedshiftDestinationDescription": {}}
    ]
    with pytest.raises(m.FirehoseError, match="delivers to Redshift, not to one S3 destination"):
        m.settings_view(stream, {})


# -- requests -------------------------------------------------------------------------


def test_create_request_sets_every_managed_field():
    chosen = settings(
        buffering_size=64,
        s3_kms_key_arn=KEY_ARN,
        cloudwatch_logging={"log_group_name": LOG_GROUP},
    )
    assert m.destination_request(chosen) == {
        "RoleARN": ROLE_ARN,
        "BucketARN": BUCKET_ARN,
        "Prefix": "events/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 300},
        "CompressionFormat": "UNCOMPRESSED",
        "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY_ARN}},
        "CloudWatchLoggingOptions": {
            "Enabled": True,
            "LogGroupName": LOG_GROUP,
            "LogStreamName": "S3Delivery",
        },
    }
    assert "ErrorOutputPrefix" not in m.destination_request(settings(error_output_prefix=""))


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"prefix": "", "error_output_prefix": ""},
        {"buffering_size": 128, "buffering_interval": 0, "compression": "Snappy"},
        {"s3_kms_key_arn": KEY_ARN, "cloudwatch_logging": {"log_group_name": LOG_GROUP}},
    ],
)
def test_what_was_created_reads_back_as_no_change(args):
    # AWS describes the destination with the fields it was created with.
    chosen = settings(**args)
    described = m.destination_view(m.destination_request(chosen))
    destination = {k: v for k, v in chosen.items() if k != "stream_encryption"}
    assert described == destination
    assert m.destination_update(described, chosen) == {}


def test_one_buffering_hint_sends_both_and_nothing_else():
    current = m.settings_view(stream_record(), {})
    update = m.destination_update(current, settings(buffering_interval=60))
    assert update == {"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60}}


def test_turning_things_off_sends_what_turns_them_off():
    current = m.destination_view(
        destination_record(
            ErrorOutputPrefix="failed/",
            EncryptionConfiguration={"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY_ARN}},
            CloudWatchLoggingOptions={
                "Enabled": True,
                "LogGroupName": LOG_GROUP,
                "LogStreamName": "S3Delivery",
            },
        )
    )
    update = m.destination_update(current, settings(error_output_prefix=""))
    assert update == {
        "ErrorOutputPrefix": "",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "CloudWatchLoggingOptions": {"Enabled": False},
    }


def test_bucket_role_prefix_and_compression_changes():
    current = m.settings_view(stream_record(), {})
    wanted = settings(
        bucket_arn="arn:aws:s3:::clickstream-raw-2",
        role_arn=ROLE_ARN + "-2",
        prefix="raw/",
        compression="GZIP",
    )
    assert m.destination_update(current, wanted) == {
        "BucketARN": "arn:aws:s3:::clickstream-raw-2",
        "RoleARN": ROLE_ARN + "-2",
        "Prefix": "raw/",
        "CompressionFormat": "GZIP",
    }


@pytest.mark.parametrize(
    ("current", "desired", "change"),
    [
        ({}, {}, None),
        ({}, {"key_type": "AWS_OWNED_CMK"}, "start"),
        ({"key_type": "AWS_OWNED_CMK"}, {"key_type": "AWS_OWNED_CMK"}, None),
        ({"key_type": "AWS_OWNED_CMK"}, {}, "stop"),
        (
            {"key_type": "AWS_OWNED_CMK"},
            {"key_type": "CUSTOMER_MANAGED_CMK", "key_arn": KEY_ARN},
            "start",  # StartDeliveryStreamEncryption also changes the key
        ),
    ],
)
def test_encryption_change(current, desired, change):
    def view(encryption):
        return m.desired_encryption(encryption or None)

    assert m.encryption_change(view(current), view(desired)) == change


def test_encryption_input_names_the_key_only_when_it_is_the_customers():
    owned = m.desired_encryption({"key_type": "AWS_OWNED_CMK"})
    assert m.encryption_input(owned) == {"KeyType": "AWS_OWNED_CMK"}
    customer = m.desired_encryption({"key_type": "CUSTOMER_MANAGED_CMK", "key_arn": KEY_ARN})
    assert m.encryption_input(customer) == {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY_ARN}


@pytest.mark.parametrize(
    ("code", "message", "retried"),
    [
        (
            "InvalidArgumentException",
            f"Firehose is unable to assume role {ROLE_ARN}. Please check the role provided.",
            True,
        ),
        ("InvalidArgumentException", "Role ... is not authorized to perform: s3:PutObject", True),
        ("InvalidArgumentException", "BucketARN is not valid", False),
        ("AccessDeniedException", "Firehose is unable to assume role", False),
    ],
)
def test_role_not_ready(code, message, retried):
    error = botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}}, "CreateDeliveryStream"
    )
    assert m.role_not_ready(error) is retried
