"""DeliveryStreamManager against real botocore clients with botocore's Stubber.

moto makes a stream ACTIVE at once and turns encryption on and off at once,
so the waits (CREATING, ENABLING, DELETING), the failure states and the retry
while a new role is not yet assumable by Firehose only run here. Stubber checks
every request against the service model and fails on any call that was not
queued, so these tests pin the exact calls, and in check mode the absence of
writing ones. The clock is fake: a wait costs no time.
"""

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ansible_collections.clickstream.aws.plugins.module_utils import firehose as m
from ansible_collections.clickstream.aws.tests.unit.firehose_samples import (
    KEY_ARN,
    LOG_GROUP,
    NAME,
    STREAM_ARN,
    destination_record,
    params,
    stream_record,
)

DESCRIBE = {"DeliveryStreamName": NAME}
OWNED = {"KeyType": "AWS_OWNED_CMK"}
ROLE_NOT_READY = "Firehose is unable to assume role arn:aws:iam::123456789012:role/x."


class Clock:
    """time.monotonic and time.sleep for the manager: sleeping moves the clock on."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def client(service):
    return boto3.client(
        service,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubs():
    firehose, logs = client("firehose"), client("logs")
    with Stubber(firehose) as fh_stub, Stubber(logs) as logs_stub:
        yield firehose, fh_stub, logs, logs_stub
        fh_stub.assert_no_pending_responses()
        logs_stub.assert_no_pending_responses()


def wrapped(raw):
    return RetryingBotoClientWrapper(raw, AWSRetry.jittered_backoff(retries=3, delay=0.01))


def manager(stubs, clock, check_mode=False, wait_timeout=600):
    firehose, _, logs, _ = stubs
    return m.DeliveryStreamManager(
        wrapped(firehose),
        NAME,
        check_mode=check_mode,
        wait_timeout=wait_timeout,
        logs_client=lambda: wrapped(logs),
        sleep=clock.sleep,
        clock=clock,
    )


def described(stub, *streams):
    """Queue DescribeDeliveryStream answers: a record, or None for 'not found'."""
    for stream in streams:
        if stream is None:
            stub.add_client_error(
                "describe_delivery_stream",
                service_error_code="ResourceNotFoundException",
                http_status_code=400,
                expected_params=DESCRIBE,
            )
        else:
            stub.add_response(
                "describe_delivery_stream", {"DeliveryStreamDescription": stream}, DESCRIBE
            )


def tags_listed(stub, tags=None):
    listed = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    stub.add_response(
        "list_tags_for_delivery_stream", {"Tags": listed, "HasMoreTags": False}, DESCRIBE
    )


def loaded(stub, stream, tags=None):
    """Queue what load() reads of an existing stream."""
    described(stub, stream)
    if stream["DeliveryStreamStatus"] != "DELETING":
        tags_listed(stub, tags)


def created(stub, **request):
    stub.add_response(
        "create_delivery_stream",
        {"DeliveryStreamARN": STREAM_ARN},
        {
            "DeliveryStreamName": NAME,
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": m.destination_request(
                m.build_desired(params())["settings"]
            ),
            **request,
        },
    )


def created_active(stub):
    """Queue a create of the defaults that is ACTIVE at the first look, and the reload."""
    created(stub)
    described(stub, stream_record())
    loaded(stub, stream_record())


def updated(stub, version, update):
    stub.add_response(
        "update_destination",
        {},
        {
            "DeliveryStreamName": NAME,
            "CurrentDeliveryStreamVersionId": version,
            "DestinationId": "destinationId-000000000001",
            "ExtendedS3DestinationUpdate": update,
        },
    )


def role_not_ready(stub, operation, times):
    for _ in range(times):
        stub.add_client_error(
            operation,
            service_error_code="InvalidArgumentException",
            service_message=ROLE_NOT_READY,
            http_status_code=400,
        )


# -- creating -------------------------------------------------------------------------


def test_create_waits_until_active_and_encrypted(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    described(stub, None)
    created(
        stub,
        DeliveryStreamEncryptionConfigurationInput=OWNED,
        Tags=[{"Key": "project", "Value": "clickstream"}],
    )
    enabling = {**OWNED, "Status": "ENABLING"}
    enabled = {**OWNED, "Status": "ENABLED"}
    described(
        stub,
        None,  # not visible yet
        stream_record("CREATING", enabling),
        stream_record("ACTIVE", enabling),
        stream_record("ACTIVE", enabled),
    )
    loaded(stub, stream_record("ACTIVE", enabled), {"project": "clickstream"})
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(
        m.build_desired(params(stream_encryption={}, tags={"project": "clickstream"}))
    )
    assert mgr.operations == ["create_delivery_stream"]
    assert clock.sleeps == [m.POLL_SECONDS] * 3
    result = mgr.result()
    assert (result["arn"], result["status"], result["encryption_status"]) == (
        STREAM_ARN,
        "ACTIVE",
        "ENABLED",
    )
    assert result["tags"] == {"project": "clickstream"}


def test_create_without_waiting_returns_the_stream_as_it_is(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    described(stub, None)
    created(stub)
    loaded(stub, stream_record("CREATING"))
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(m.build_desired(params()), wait=False)
    assert mgr.result()["status"] == "CREATING"
    assert clock.sleeps == []


def test_a_new_stream_not_visible_yet_is_returned_as_asked(stubs):
    _, stub, _, _ = stubs
    described(stub, None)
    created(stub)
    described(stub, None)  # DescribeDeliveryStream lags behind CreateDeliveryStream
    mgr = manager(stubs, Clock())
    mgr.load()
    mgr.ensure_present(m.build_desired(params()), wait=False)
    result = mgr.result()
    assert (result["arn"], result["prefix"]) == (None, "events/")
    assert mgr.view()["buffering_size"] == 5


def test_create_is_retried_while_firehose_cannot_assume_the_new_role(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    described(stub, None)
    role_not_ready(stub, "create_delivery_stream", 2)
    created_active(stub)
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(m.build_desired(params()))
    assert mgr.operations == ["create_delivery_stream"]
    assert clock.sleeps == [m.POLL_SECONDS] * 2


def test_the_role_retry_gives_up_after_two_minutes(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    described(stub, None)
    attempts = m.ROLE_PROPAGATION_SECONDS // m.POLL_SECONDS + 1
    role_not_ready(stub, "create_delivery_stream", attempts)
    mgr = manager(stubs, clock)
    mgr.load()
    with pytest.raises(ClientError, match="unable to assume role"):
        mgr.ensure_present(m.build_desired(params()))
    assert clock.now == m.ROLE_PROPAGATION_SECONDS


def test_another_invalid_argument_is_not_retried(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    described(stub, None)
    stub.add_client_error(
        "create_delivery_stream",
        service_error_code="InvalidArgumentException",
        service_message="Bucket clickstream-raw does not exist",
        http_status_code=400,
    )
    mgr = manager(stubs, clock)
    mgr.load()
    with pytest.raises(ClientError, match="does not exist"):
        mgr.ensure_present(m.build_desired(params()))
    assert clock.sleeps == []


def creation_error(stubs, *descriptions, wait_timeout=600):
    """The error of a create whose waiting reads ``descriptions``."""
    _, stub, _, _ = stubs
    described(stub, None)
    created(stub)
    described(stub, *descriptions)
    mgr = manager(stubs, Clock(), wait_timeout=wait_timeout)
    mgr.load()
    with pytest.raises(m.FirehoseError) as error:
        mgr.ensure_present(m.build_desired(params()))
    return str(error.value)


def test_waiting_stops_at_wait_timeout(stubs):
    creating = [stream_record("CREATING")] * 4  # at 0, 5, 10 and 15 s
    assert creation_error(stubs, *creating, wait_timeout=12) == (
        f"timed out after 12 s waiting for delivery stream {NAME} to be ACTIVE with "
        "encryption DISABLED (now CREATING); raise wait_timeout or run again"
    )


def test_a_stream_that_fails_to_be_created_says_why(stubs):
    failure = {"Type": "KMS_ACCESS_DENIED", "Details": "no grant on the key"}
    assert creation_error(stubs, stream_record("CREATING_FAILED", FailureDescription=failure)) == (
        f"delivery stream {NAME} is CREATING_FAILED: KMS_ACCESS_DENIED: no grant on the key; "
        "delete it (state=absent) and run again"
    )


# -- updating -------------------------------------------------------------------------


def test_in_sync_stream_makes_no_writing_call(stubs):
    _, stub, _, _ = stubs
    loaded(stub, stream_record())
    mgr = manager(stubs, Clock())
    mgr.load()
    before = mgr.view()
    mgr.ensure_present(m.build_desired(params()))
    assert (mgr.changed, mgr.operations) == (False, [])
    assert mgr.view() == before


def test_a_stream_being_created_is_waited_for_before_it_is_changed(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    loaded(stub, stream_record("CREATING"))
    described(stub, stream_record("CREATING"), stream_record("ACTIVE", version="2"))
    tags_listed(stub)
    updated(stub, "2", {"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60}})
    loaded(
        stub,
        stream_record(
            version="3",
            destination=destination_record(
                BufferingHints={"SizeInMBs": 5, "IntervalInSeconds": 60}
            ),
        ),
    )
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(m.build_desired(params(buffering_interval=60)))
    assert mgr.operations == ["update_destination"]
    assert clock.sleeps == [m.POLL_SECONDS]
    assert mgr.result()["version_id"] == "3"
    assert mgr.result()["buffering_interval"] == 60


def test_update_destination_is_retried_while_the_new_role_is_not_assumable(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    new_role = "arn:aws:iam::123456789012:role/clickstream-firehose-2"
    loaded(stub, stream_record())
    role_not_ready(stub, "update_destination", 1)
    updated(stub, "1", {"RoleARN": new_role})
    loaded(stub, stream_record(version="2", destination=destination_record(RoleARN=new_role)))
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(m.build_desired(params(role_arn=new_role)))
    assert mgr.operations == ["update_destination"]
    assert clock.sleeps == [m.POLL_SECONDS]


def test_encryption_is_turned_on_and_waited_for(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    loaded(stub, stream_record())
    customer = {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY_ARN}
    stub.add_response(
        "start_delivery_stream_encryption",
        {},
        {"DeliveryStreamName": NAME, "DeliveryStreamEncryptionConfigurationInput": customer},
    )
    described(
        stub,
        stream_record("ACTIVE", {**customer, "Status": "ENABLING"}),
        stream_record("ACTIVE", {**customer, "Status": "ENABLED"}),
    )
    loaded(stub, stream_record("ACTIVE", {**customer, "Status": "ENABLED"}))
    mgr = manager(stubs, clock)
    mgr.load()
    encryption = {"key_type": "CUSTOMER_MANAGED_CMK", "key_arn": KEY_ARN}
    mgr.ensure_present(m.build_desired(params(stream_encryption=encryption)))
    assert mgr.operations == ["start_delivery_stream_encryption"]
    assert clock.sleeps == [m.POLL_SECONDS]
    assert mgr.result()["stream_encryption"] == {
        "enabled": True,
        "key_type": "CUSTOMER_MANAGED_CMK",
        "key_arn": KEY_ARN,
    }


def test_encryption_that_fails_to_turn_on_says_why(stubs):
    _, stub, _, _ = stubs
    loaded(stub, stream_record())
    stub.add_response(
        "start_delivery_stream_encryption",
        {},
        {"DeliveryStreamName": NAME, "DeliveryStreamEncryptionConfigurationInput": OWNED},
    )
    failure = {"Type": "KMS_OPT_IN_REQUIRED", "Details": "opt in"}
    described(
        stub,
        stream_record(
            "ACTIVE", {**OWNED, "Status": "ENABLING_FAILED", "FailureDescription": failure}
        ),
    )
    mgr = manager(stubs, Clock())
    mgr.load()
    with pytest.raises(m.FirehoseError) as error:
        mgr.ensure_present(m.build_desired(params(stream_encryption={})))
    assert str(error.value) == (
        f"server-side encryption of delivery stream {NAME} is ENABLING_FAILED: "
        "KMS_OPT_IN_REQUIRED: opt in"
    )


def test_encryption_is_turned_off_and_tags_follow(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    loaded(stub, stream_record("ACTIVE", {**OWNED, "Status": "ENABLED"}), {"old": "1", "a": "1"})
    stub.add_response("stop_delivery_stream_encryption", {}, DESCRIBE)
    described(stub, stream_record("ACTIVE", {**OWNED, "Status": "DISABLED"}))
    stub.add_response("untag_delivery_stream", {}, {**DESCRIBE, "TagKeys": ["old"]})
    stub.add_response("tag_delivery_stream", {}, {**DESCRIBE, "Tags": [{"Key": "a", "Value": "2"}]})
    loaded(stub, stream_record("ACTIVE", {**OWNED, "Status": "DISABLED"}), {"a": "2"})
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(m.build_desired(params(tags={"a": "2"})))
    assert mgr.operations == [
        "stop_delivery_stream_encryption",
        "untag_delivery_stream",
        "tag_delivery_stream",
    ]
    assert clock.sleeps == []
    assert mgr.result()["encryption_status"] == "DISABLED"


def test_check_mode_predicts_every_change_without_writing(stubs):
    _, stub, _, logs_stub = stubs
    loaded(stub, stream_record(), {"old": "1"})  # reads only: a write fails the Stubber
    logs_stub.add_response(
        "describe_log_streams",
        {"logStreams": []},
        {"logGroupName": LOG_GROUP, "logStreamNamePrefix": "S3Delivery"},
    )
    mgr = manager(stubs, Clock(), check_mode=True)
    mgr.load()
    before = mgr.view()
    mgr.ensure_present(
        m.build_desired(
            params(
                compression="GZIP",
                stream_encryption={},
                cloudwatch_logging={"log_group_name": LOG_GROUP},
                tags={"new": "1"},
            )
        )
    )
    assert mgr.operations == [
        "create_log_stream",
        "update_destination",
        "start_delivery_stream_encryption",
        "untag_delivery_stream",
        "tag_delivery_stream",
    ]
    after = mgr.view()
    assert (before["compression"], after["compression"]) == ("UNCOMPRESSED", "GZIP")
    assert after["stream_encryption"]["enabled"] is True
    assert after["cloudwatch_logging"]["log_group_name"] == LOG_GROUP
    assert after["tags"] == {"new": "1"}
    assert mgr.result()["arn"] == STREAM_ARN


def test_check_mode_does_not_wait_for_a_busy_stream(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    loaded(stub, stream_record("CREATING"))
    mgr = manager(stubs, clock, check_mode=True)
    mgr.load()
    mgr.ensure_present(m.build_desired(params(buffering_size=10)))
    assert mgr.operations == ["update_destination"]
    assert clock.sleeps == []


# -- the log stream ---------------------------------------------------------------------


def test_an_existing_log_stream_is_left_alone(stubs):
    _, stub, _, logs_stub = stubs
    logging = {"log_group_name": LOG_GROUP, "log_stream_name": "errors"}
    destination = destination_record(
        CloudWatchLoggingOptions={
            "Enabled": True,
            "LogGroupName": LOG_GROUP,
            "LogStreamName": "errors",
        }
    )
    loaded(stub, stream_record(destination=destination))
    logs_stub.add_response(
        "describe_log_streams",
        {"logStreams": [{"logStreamName": "errors-old"}, {"logStreamName": "errors"}]},
        {"logGroupName": LOG_GROUP, "logStreamNamePrefix": "errors"},
    )
    mgr = manager(stubs, Clock())
    mgr.load()
    mgr.ensure_present(m.build_desired(params(cloudwatch_logging=logging)))
    assert mgr.operations == []


def test_a_missing_log_group_is_an_error_outside_check_mode(stubs):
    _, stub, _, logs_stub = stubs
    described(stub, None)
    logs_stub.add_client_error(
        "describe_log_streams", service_error_code="ResourceNotFoundException"
    )
    mgr = manager(stubs, Clock())
    mgr.load()
    with pytest.raises(m.FirehoseError, match=f"log group {LOG_GROUP} does not exist"):
        mgr.ensure_present(
            m.build_desired(params(cloudwatch_logging={"log_group_name": LOG_GROUP}))
        )
    assert mgr.operations == []


# -- deleting ---------------------------------------------------------------------------


def test_delete_waits_for_creation_to_end_then_until_gone(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    loaded(stub, stream_record("CREATING"))
    described(stub, stream_record("CREATING"), stream_record("ACTIVE"))
    stub.add_response("delete_delivery_stream", {}, DESCRIBE)
    described(stub, stream_record("DELETING"), None)
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_absent()
    assert mgr.operations == ["delete_delivery_stream"]
    assert clock.sleeps == [m.POLL_SECONDS] * 2
    assert (mgr.view(), mgr.result()) == ({}, {})


def test_a_stream_being_deleted_is_only_waited_for(stubs):
    _, stub, _, _ = stubs
    loaded(stub, stream_record("DELETING"))
    described(stub, None)
    mgr = manager(stubs, Clock())
    mgr.load()
    assert mgr.view() == {}
    mgr.ensure_absent()
    assert (mgr.changed, mgr.operations) == (False, [])


def test_a_failed_deletion_says_why(stubs):
    _, stub, _, _ = stubs
    loaded(stub, stream_record())
    stub.add_response("delete_delivery_stream", {}, DESCRIBE)
    failure = {"Type": "RETIRE_KMS_GRANT_FAILED", "Details": "grant"}
    described(stub, stream_record("DELETING_FAILED", FailureDescription=failure))
    mgr = manager(stubs, Clock())
    mgr.load()
    with pytest.raises(m.FirehoseError, match="is DELETING_FAILED: RETIRE_KMS_GRANT_FAILED"):
        mgr.ensure_absent()


def test_check_mode_delete_makes_no_call(stubs):
    _, stub, _, _ = stubs
    loaded(stub, stream_record("CREATING"))
    mgr = manager(stubs, Clock(), check_mode=True)
    mgr.load()
    mgr.ensure_absent()
    assert mgr.operations == ["delete_delivery_stream"]


def test_present_on_a_stream_being_deleted_waits_then_creates(stubs):
    _, stub, _, _ = stubs
    clock = Clock()
    loaded(stub, stream_record("DELETING"))
    described(stub, None)
    created_active(stub)
    mgr = manager(stubs, clock)
    mgr.load()
    mgr.ensure_present(m.build_desired(params()))
    assert mgr.operations == ["create_delivery_stream"]


# -- reading ----------------------------------------------------------------------------


def test_tags_are_read_page_by_page(stubs):
    _, stub, _, _ = stubs
    described(stub, stream_record())
    stub.add_response(
        "list_tags_for_delivery_stream",
        {"Tags": [{"Key": "a", "Value": "1"}], "HasMoreTags": True},
        DESCRIBE,
    )
    stub.add_response(
        "list_tags_for_delivery_stream",
        {"Tags": [{"Key": "b", "Value": "2"}], "HasMoreTags": False},
        {**DESCRIBE, "ExclusiveStartTagKey": "a"},
    )
    mgr = manager(stubs, Clock())
    mgr.load()
    assert mgr.view()["tags"] == {"a": "1", "b": "2"}
