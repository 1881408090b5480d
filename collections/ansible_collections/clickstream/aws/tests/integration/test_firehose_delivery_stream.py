"""clickstream.aws.firehose_delivery_stream run by ansible-playbook against a moto server.

One ``moto_server`` process on a free 127.0.0.1 port (ansible_moto.moto_process)
serves the whole module. Each step runs a real playbook (the project's
ansible.cfg, cwd at the project root, connection settings through
``module_defaults: group/clickstream.aws.aws``) and the result is checked by
reading the stream back with boto3: DescribeDeliveryStream,
ListTagsForDeliveryStream, the log stream in CloudWatch Logs and, after a
PutRecordBatch, the object in the bucket.

moto implements every call the module makes (create, describe, update
destination, start/stop encryption, tag/untag, delete), so each path runs
here for real. Where moto differs from Firehose (it writes each batch as one
object at once, whatever the buffering hints and compression; a stream is
ACTIVE at once; encryption set at creation has no Status) the waits and
transitions are covered in tests/unit/test_firehose_manager.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ansible_moto import local_play, moto_process, run_playbook, write_playbook

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STREAM = "clickstream-events"
BUCKET = "clickstream-raw"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/clickstream-firehose"
LOG_GROUP = "/aws/kinesisfirehose/clickstream-events"
S3_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/clickstream-raw"
STREAM_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MODULE = "clickstream.aws.firehose_delivery_stream"
INFO_MODULE = "clickstream.aws.firehose_delivery_stream_info"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with moto_process(log, region=REGION) as server:
        server.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield server


@pytest.fixture(scope="module")
def firehose(moto):
    return moto.client("firehose")


@pytest.fixture(scope="module")
def run(moto, tmp_path_factory):
    """Run the given tasks as one play against moto; return each task's result."""
    workdir = tmp_path_factory.mktemp("playbooks")
    count = 0

    def play(*tasks: dict, flags: tuple[str, ...] = ()) -> list[dict]:
        nonlocal count
        count += 1
        body = local_play("firehose_delivery_stream test", moto.url, REGION, tasks=list(tasks))
        result = run_playbook(write_playbook(workdir / f"play{count}.yml", body), *flags)
        assert result.returncode == 0, result.output
        return [task["result"] for task in result.tasks]

    return play


def task(args: dict, **keywords) -> dict:
    """A task of the module; failures are asserted on, so they do not stop the play."""
    return {"name": "Delivery stream", MODULE: args, "ignore_errors": True, **keywords}


def info_task() -> dict:
    return {"name": "Find it", INFO_MODULE: {"name": STREAM}}


def stream_args(**overrides) -> dict:
    args = {
        "name": STREAM,
        "bucket_arn": f"arn:aws:s3:::{BUCKET}",
        "role_arn": ROLE,
        "buffering_size": 64,
        "buffering_interval": 120,
        "compression": "GZIP",
        "s3_kms_key_arn": S3_KEY,
        "stream_encryption": {"key_type": "AWS_OWNED_CMK"},
        "cloudwatch_logging": {"log_group_name": LOG_GROUP},
        "tags": {"project": "clickstream", "component": "ingest"},
    }
    args.update(overrides)
    return args


def describe(firehose) -> dict:
    return firehose.describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"]


def destination(firehose) -> dict:
    (dest,) = describe(firehose)["Destinations"]
    return dest["ExtendedS3DestinationDescription"]


def tags(firehose) -> dict:
    listed = firehose.list_tags_for_delivery_stream(DeliveryStreamName=STREAM)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in listed}


def stream_names(firehose) -> list[str]:
    return firehose.list_delivery_streams()["DeliveryStreamNames"]


def test_lifecycle(run, firehose, moto):
    # -- create, with the log group made by amazon.aws in the same play -------------
    log_group = {
        "name": "Log group",
        "amazon.aws.cloudwatchlogs_log_group": {"log_group_name": LOG_GROUP},
    }
    missing, _, created, found = run(
        info_task(), log_group, task(stream_args(), diff=True), info_task()
    )
    assert created.get("failed") is not True, created.get("msg")
    # the info module: nothing before, then what the module returned, read back
    assert (missing["exists"], missing["delivery_stream"], missing["changed"]) == (False, {}, False)
    assert found["exists"] is True
    assert found["delivery_stream"]["arn"] == describe(firehose)["DeliveryStreamARN"]
    assert {k: v for k, v in found["delivery_stream"].items() if k != "status"} == {
        k: v for k, v in created["delivery_stream"].items() if k != "status"
    }
    assert created["changed"] is True
    assert created["operations"] == ["create_log_stream", "create_delivery_stream"]
    assert created["diff"]["before"] == {}

    stream = describe(firehose)
    assert stream["DeliveryStreamStatus"] == "ACTIVE"
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert stream["DeliveryStreamEncryptionConfiguration"]["KeyType"] == "AWS_OWNED_CMK"
    dest = destination(firehose)
    assert dest["BucketARN"] == f"arn:aws:s3:::{BUCKET}"
    assert dest["RoleARN"] == ROLE
    assert dest["Prefix"] == "events/"
    assert dest["ErrorOutputPrefix"] == (
        "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    )
    assert dest["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 120}
    assert dest["CompressionFormat"] == "GZIP"
    assert dest["EncryptionConfiguration"] == {"KMSEncryptionConfig": {"AWSKMSKeyARN": S3_KEY}}
    assert dest["CloudWatchLoggingOptions"] == {
        "Enabled": True,
        "LogGroupName": LOG_GROUP,
        "LogStreamName": "S3Delivery",
    }
    assert tags(firehose) == {"project": "clickstream", "component": "ingest"}
    log_streams = moto.client("logs").describe_log_streams(logGroupName=LOG_GROUP)
    assert [s["logStreamName"] for s in log_streams["logStreams"]] == ["S3Delivery"]

    # the return values name what was created, settings in the options' shape
    result = created["delivery_stream"]
    assert result["arn"] == stream["DeliveryStreamARN"]
    assert result["arn"] == f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{STREAM}"
    assert result["status"] == "ACTIVE"
    assert result["version_id"] == stream["VersionId"]
    assert result["destination_id"] == stream["Destinations"][0]["DestinationId"]
    assert result["encryption_status"] == "ENABLED"
    assert result["buffering_size"] == 64
    assert result["stream_encryption"] == {
        "enabled": True,
        "key_type": "AWS_OWNED_CMK",
        "key_arn": None,
    }
    assert created["diff"]["after"] == {key: result[key] for key in created["diff"]["after"]}

    # -- the same run again changes nothing, in check mode neither ------------------
    again, checked = run(task(stream_args()), task(stream_args(), check_mode=True, diff=True))
    assert again["changed"] is False
    assert again["operations"] == []
    assert again["delivery_stream"]["arn"] == stream["DeliveryStreamARN"]
    assert checked["changed"] is False
    assert checked["diff"]["before"] == checked["diff"]["after"]

    # -- a buffering hint changes: UpdateDestination on the current version ----------
    (updated,) = run(task(stream_args(buffering_interval=60), diff=True))
    assert updated["changed"] is True
    assert updated["operations"] == ["update_destination"]
    before, after = updated["diff"]["before"], updated["diff"]["after"]
    assert (before["buffering_interval"], after["buffering_interval"]) == (120, 60)
    assert {k: v for k, v in before.items() if k != "buffering_interval"} == {
        k: v for k, v in after.items() if k != "buffering_interval"
    }
    assert destination(firehose)["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}
    assert destination(firehose)["Prefix"] == "events/"  # the rest kept
    assert describe(firehose)["VersionId"] == str(int(stream["VersionId"]) + 1)
    assert updated["delivery_stream"]["version_id"] == describe(firehose)["VersionId"]

    # -- --check: every kind of change is predicted, nothing is written --------------
    before_check = (describe(firehose), tags(firehose))
    planned_args = stream_args(
        buffering_interval=60,
        buffering_size=128,
        compression="UNCOMPRESSED",
        stream_encryption={"key_type": "CUSTOMER_MANAGED_CMK", "key_arn": STREAM_KEY},
        tags={"project": "clickstream", "owner": "platform"},
    )
    (planned,) = run(task(planned_args), flags=("--check", "--diff"))
    assert planned["changed"] is True
    assert planned["operations"] == [
        "update_destination",
        "start_delivery_stream_encryption",
        "untag_delivery_stream",
        "tag_delivery_stream",
    ]
    assert planned["diff"]["after"]["buffering_size"] == 128
    assert planned["diff"]["after"]["stream_encryption"]["key_arn"] == STREAM_KEY
    assert planned["diff"]["after"]["tags"] == {"project": "clickstream", "owner": "platform"}
    assert planned["delivery_stream"]["compression"] == "UNCOMPRESSED"
    assert (describe(firehose), tags(firehose)) == before_check

    # -- the same for real: encryption to a customer key, then off; tags -------------
    (applied,) = run(task(planned_args))
    assert applied["operations"] == planned["operations"]
    stream = describe(firehose)
    assert stream["DeliveryStreamEncryptionConfiguration"] == {
        "KeyType": "CUSTOMER_MANAGED_CMK",
        "KeyARN": STREAM_KEY,
        "Status": "ENABLED",
    }
    assert destination(firehose)["CompressionFormat"] == "UNCOMPRESSED"
    assert tags(firehose) == {"project": "clickstream", "owner": "platform"}
    plain_args = {**planned_args, "stream_encryption": None, "purge_tags": False, "tags": {}}
    off, off_again = run(task(plain_args), task(plain_args))
    assert off["operations"] == ["stop_delivery_stream_encryption"]
    assert off["delivery_stream"]["encryption_status"] == "DISABLED"
    assert describe(firehose)["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED"
    assert off_again["changed"] is False
    assert tags(firehose) == {"project": "clickstream", "owner": "platform"}  # not purged

    # -- a batch lands under events/YYYY/MM/DD/HH/ (moto writes it at once) ----------
    hour_before = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    records = [b'{"eventId":"e1"}\n', b'{"eventId":"e2"}\n']
    firehose.put_record_batch(DeliveryStreamName=STREAM, Records=[{"Data": r} for r in records])
    hour_after = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    s3 = moto.client("s3")
    (obj,) = s3.list_objects_v2(Bucket=BUCKET, Prefix="events/")["Contents"]
    hour, name = obj["Key"].removeprefix("events/").rsplit("/", 1)
    assert hour in {hour_before, hour_after}
    assert name.startswith(f"{STREAM}-{describe(firehose)['VersionId']}-")
    assert s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read() == b"".join(records)

    # -- delete, then deleting again is a no-op ---------------------------------------
    absent = {"name": STREAM, "state": "absent"}
    deleted, deleted_again, gone = run(task(absent, diff=True), task(absent), info_task())
    assert deleted["changed"] is True
    assert deleted["operations"] == ["delete_delivery_stream"]
    assert deleted["diff"]["before"]["prefix"] == "events/"
    assert deleted["diff"]["after"] == {}
    assert deleted["delivery_stream"] == {}
    assert STREAM not in stream_names(firehose)
    assert deleted_again["changed"] is False
    assert deleted_again["operations"] == []
    assert gone["exists"] is False


def test_check_mode_on_a_new_stream_and_bad_input_create_nothing(run, firehose):
    preview, refused, no_bucket = run(
        task(
            stream_args(
                name="clickstream-preview",
                cloudwatch_logging={"log_group_name": "/aws/kinesisfirehose/clickstream-preview"},
            ),
            check_mode=True,
            diff=True,
        ),
        task(stream_args(name="clickstream-bad", prefix="events")),
        task({"name": "clickstream-bad", "role_arn": ROLE}),
    )
    assert preview["changed"] is True
    # its log group does not exist: an earlier task of a real run would create it
    assert preview["operations"] == ["create_log_stream", "create_delivery_stream"]
    assert preview["delivery_stream"]["arn"] is None  # not known before it exists
    assert preview["delivery_stream"]["prefix"] == "events/"
    assert preview["diff"]["before"] == {}
    assert refused["failed"] is True
    assert refused["msg"].startswith("prefix 'events' must end with '/'")
    assert refused["operations"] == []
    assert no_bucket["failed"] is True
    assert "bucket_arn" in no_bucket["msg"]
    assert {"clickstream-preview", "clickstream-bad"}.isdisjoint(stream_names(firehose))


def test_a_stream_of_another_kind_is_left_alone(run, firehose):
    firehose.create_delivery_stream(
        DeliveryStreamName="clickstream-http",
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": "https://example.invalid/ingest"},
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}"},
        },
    )
    (result,) = run(task(stream_args(name="clickstream-http", cloudwatch_logging=None)))
    assert result["failed"] is True
    assert "delivers to HttpEndpoint" in result["msg"]
    assert result["operations"] == []
    firehose.delete_delivery_stream(DeliveryStreamName="clickstream-http")
