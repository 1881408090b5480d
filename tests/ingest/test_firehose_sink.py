"""The firehose sink (INGEST_SINK=firehose): one newline-terminated JSON record per event,
all of a request's records in one PutRecordBatch, refused records retried alone.

Against moto in process, which delivers each PutRecordBatch to the bucket at once as
one object under ``<prefix>YYYY/MM/DD/HH/``, the records joined as they are.  Real
Firehose differs: it buffers many calls into one object (size or interval), may
compress it, and refuses single records (``FailedPutCount``).  Our records carry their
own newline, so the objects read the same either way; the retries are covered below
with a client that refuses records, and the ETL's tests cover multi-request and
gzip objects.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

BUCKET = "clickstream-raw-test"  # conftest's raw bucket
STREAM = "clickstream-raw-test-stream"


@pytest.fixture
def stream(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A delivery stream into the raw bucket, prefix events/ (moto); the sink chosen."""
    import boto3

    firehose = boto3.client("firehose", region_name="ap-southeast-1")
    names = firehose.list_delivery_streams()["DeliveryStreamNames"]
    if STREAM not in names:
        firehose.create_delivery_stream(
            DeliveryStreamName=STREAM,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/clickstream-firehose",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": "events/",
                "ErrorOutputPrefix": "firehose-errors/",
            },
        )
    monkeypatch.setenv("INGEST_SINK", "firehose")
    monkeypatch.setenv("DELIVERY_STREAM_NAME", STREAM)
    monkeypatch.delenv("RAW_BUCKET_NAME")
    return firehose


@pytest.fixture
def use_client(ingest: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``use_client(fake)``: the handler's Firehose client for this test."""

    def use(client: Any) -> Any:
        monkeypatch.setattr(ingest, "_firehose_client", client)
        return client

    return use


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def delivered(bucket: Any) -> list[tuple[str, bytes]]:
    return [
        (key, bucket.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        for key in bucket.keys()  # noqa: SIM118 - RawBucket.keys(), not a dict
    ]


def test_a_single_event_is_one_record_of_one_line(
    stream: Any, invoke: Any, bucket: Any, sample_event: dict[str, Any]
) -> None:
    response = invoke(sample_event)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"success": True}
    ((key, data),) = delivered(bucket)
    assert key.startswith("events/")
    assert key.count("/") == 5  # events/YYYY/MM/DD/HH/<name>
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    record = json.loads(data)
    assert {k: v for k, v in record.items() if k != "_ingest"} == sample_event
    assert record["_ingest"]["requestId"] == "JKJaXmPLvHcESHA="


def test_a_batch_is_one_call_of_one_record_per_event_in_order(
    stream: Any, invoke: Any, bucket: Any
) -> None:
    batch = [{"eventName": "page_view", "n": n} for n in range(3)]

    response = invoke(batch)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"success": True, "count": 3}
    ((_key, data),) = delivered(bucket)  # moto: one object per PutRecordBatch
    records = [json.loads(line) for line in data.decode().splitlines()]
    assert [r["n"] for r in records] == [0, 1, 2]
    assert len({json.dumps(r["_ingest"]) for r in records}) == 1


def test_bad_requests_and_limits_are_the_same_and_send_nothing(
    stream: Any, monkeypatch: pytest.MonkeyPatch, invoke: Any, bucket: Any
) -> None:
    monkeypatch.setenv("MAX_BATCH_EVENTS", "2")

    assert invoke(raw="not json")["statusCode"] == 400
    assert invoke([{"eventName": "a"}] * 3)["statusCode"] == 413
    assert invoke([{"eventName": "a"}, {"noName": 1}])["statusCode"] == 400
    assert invoke(method="OPTIONS")["statusCode"] == 400
    assert bucket.keys() == []


class RefusingFirehose:
    """Refuses the records whose index (in the request) is in ``refuse`` for ``times`` calls."""

    def __init__(self, refuse: set[int], times: int) -> None:
        self.refuse = refuse
        self.times = times
        self.calls: list[list[dict[str, Any]]] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> Any:
        assert DeliveryStreamName == STREAM
        self.calls.append([json.loads(r["Data"]) for r in Records])
        refusing = len(self.calls) <= self.times
        responses = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
            if refusing and json.loads(r["Data"])["n"] in self.refuse
            else {"RecordId": f"r-{len(self.calls)}-{i}"}
            for i, r in enumerate(Records)
        ]
        failed = sum("ErrorCode" in r for r in responses)
        return {"FailedPutCount": failed, "RequestResponses": responses}


def test_refused_records_are_retried_alone_until_delivered(
    stream: Any,
    use_client: Any,
    ingest: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    invoke: Any,
) -> None:
    monkeypatch.setattr(ingest, "FIREHOSE_BACKOFF_SECONDS", 0.0)
    fake = use_client(RefusingFirehose(refuse={1, 3}, times=2))

    response = invoke([{"eventName": "page_view", "n": n} for n in range(5)])

    assert response["statusCode"] == 200
    assert [[r["n"] for r in call] for call in fake.calls] == [[0, 1, 2, 3, 4], [1, 3], [1, 3]]
    (line,) = [r for r in log_lines(capsys.readouterr().out) if r["level"] == "INFO"]
    assert line["deliveryStream"] == STREAM
    assert (line["records"], line["attempts"], line["recordsRetried"]) == (5, 3, 4)
    assert line["EventsStored"] == 5


def test_records_refused_on_every_attempt_answer_500_and_name_the_request(
    stream: Any,
    use_client: Any,
    ingest: Any,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    invoke: Any,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(ingest.time, "sleep", waits.append)
    fake = use_client(RefusingFirehose(refuse={2}, times=99))

    response = invoke([{"eventName": "page_view", "n": n} for n in range(3)])

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"success": False, "message": "Internal error"}
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    assert len(fake.calls) == ingest.FIREHOSE_ATTEMPTS
    assert all(call == fake.calls[1] for call in fake.calls[1:])  # only the refused one
    # full jitter below a doubling cap
    assert len(waits) == ingest.FIREHOSE_ATTEMPTS - 1
    assert all(0 <= w <= ingest.FIREHOSE_BACKOFF_SECONDS * 2**n for n, w in enumerate(waits))
    (line,) = [r for r in log_lines(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert line["message"] == "delivery to Firehose failed"
    assert line["requestId"] == context.aws_request_id
    assert line["apiRequestId"] == "JKJaXmPLvHcESHA="
    assert line["deliveryStream"] == STREAM
    assert line["recordsFailed"] == 1
    assert line["errorCodes"] == {"ServiceUnavailableException": 1}
    assert (line["InternalErrors"], line["RecordsFailed"]) == (1, 1)


def test_a_failing_call_answers_500_with_the_error_code(
    stream: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], invoke: Any
) -> None:
    monkeypatch.setenv("DELIVERY_STREAM_NAME", "no-such-stream")

    response = invoke({"eventName": "page_view"})

    assert response["statusCode"] == 500
    (line,) = [r for r in log_lines(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert line["message"] == "delivery to Firehose failed"
    assert line["deliveryStream"] == "no-such-stream"
    assert line["errorCode"] == "ResourceNotFoundException"


def test_an_event_larger_than_a_record_is_413_and_nothing_is_sent(
    stream: Any, use_client: Any, monkeypatch: pytest.MonkeyPatch, invoke: Any
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", str(2 * 1024 * 1024))
    fake = use_client(RefusingFirehose(refuse=set(), times=0))

    response = invoke([{"eventName": "a", "n": 0}, {"eventName": "b", "pad": "x" * 1_100_000}])

    assert response["statusCode"] == 413
    assert "events[1] is" in json.loads(response["body"])["message"]
    assert "1024000 bytes a delivery stream record may hold" in response["body"]
    assert fake.calls == []


def test_calls_keep_within_the_put_record_batch_limits(ingest: Any) -> None:
    small = [b"x" * 10] * 1201
    assert [len(c) for c in ingest._calls(small, list(range(1201)))] == [500, 500, 201]
    big = [b"x" * 900 * 1024] * 10  # 4 fit in 4 MiB
    assert [len(c) for c in ingest._calls(big, list(range(10)))] == [4, 4, 2]
    assert ingest._calls(big, [7, 9]) == [[7, 9]]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"INGEST_SINK": "kinesis"}, "INGEST_SINK must be one of s3, firehose, got 'kinesis'"),
        ({"INGEST_SINK": "firehose"}, "DELIVERY_STREAM_NAME is not set"),
        ({"INGEST_SINK": "s3", "RAW_BUCKET_NAME": ""}, "RAW_BUCKET_NAME is not set"),
    ],
)
def test_a_sink_without_its_target_fails_loudly(
    ingest: Any, aws_env: None, monkeypatch: pytest.MonkeyPatch, variables: Any, message: str
) -> None:
    monkeypatch.delenv("DELIVERY_STREAM_NAME", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ingest.ConfigurationError, match=message):
        ingest.load_settings()
