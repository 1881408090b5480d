"""Cost model: the AWS requests and bytes per accepted event of each ingest sink, in dollars.

    .venv/bin/python benchmarks/cost_bench.py [--events 3000] [--per-hour 1000000]
                                              [--buffer-mib 5] [--buffer-seconds 300]

For each sink (``s3``, ``firehose``) and 1, 10 and 100 events per request, the real
ingest handler (clickstream_ingest.handler) answers ``--events`` events' worth of
requests against moto (in process), and every request its AWS clients make is counted
(botocore's ``before-parameter-build`` hook on boto3's default session): S3
``PutObject``; Firehose ``PutRecordBatch`` with each record's size, billed rounded up
to 5 KB.  The ETL's side is the ETL's own code reading the lab's bucket
(``clickstream_etl.etl_s3.list_hours`` and ``fetch_all``), its ``ListObjectsV2`` and
``GetObject`` counted the same way.

Where moto differs from Firehose, the difference is modelled, not measured: moto writes
each ``PutRecordBatch`` to S3 at once as one object, Firehose buffers records into
objects of ``--buffer-mib`` or ``--buffer-seconds``, whichever comes first.  At
``--per-hour`` events an hour, with the record bytes measured here, Firehose writes
``max(bytes an hour / buffer size, 3600 / buffer interval)`` objects an hour; each is
one S3 PUT (Firehose's) and one GET for the ETL, and a LIST per 1,000 of them.

Prices come from benchmarks/aws_prices.toml (one region, with the date they were
recorded).  Lambda compute is left out: the same function runs for about as long with
either sink.  Target (issue #14): ``firehose`` with one event per request at most
$1.50 per million events, against about $6.40 for ``s3``.  Figures only: it asserts
nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
from moto import mock_aws

REPO = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO / "tests" / "ingest" / "events"
PRICES = Path(__file__).with_name("aws_prices.toml")
REGION = "ap-southeast-1"
BUCKET = "clickstream-raw-cost"
STREAM = "clickstream-raw-cost"
SIZES = (1, 10, 100)


class Counted:
    """Every AWS API call made through boto3's default session, by service and operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.records = 0
        self.record_bytes = 0
        self.billed_units = 0
        self.increment = 5120

    def __call__(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1
        if model.name == "PutRecordBatch":
            for record in params["Records"]:
                size = len(record["Data"])
                self.records += 1
                self.record_bytes += size
                self.billed_units += math.ceil(size / self.increment)


def http_api_event(body: str) -> dict[str, Any]:
    event = json.loads((EVENTS_DIR / "http_api_post_clickstream.json").read_text())
    event["body"] = body
    return event


def run_sink(sink: str, per_request: int, events: int, counted: Counted) -> dict[str, Any]:
    """Ingest ``events`` events ``per_request`` at a time with ``sink``; count what it sent."""
    from clickstream_etl import etl_s3
    from clickstream_ingest import handler

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    os.environ["INGEST_SINK"] = sink
    os.environ["RAW_BUCKET_NAME"] = BUCKET
    os.environ["DELIVERY_STREAM_NAME"] = STREAM
    if sink == "firehose":
        boto3.client("firehose", region_name=REGION).create_delivery_stream(
            DeliveryStreamName=STREAM,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/clickstream-firehose",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": "events/",
            },
        )
    handler._s3_client = handler._firehose_client = None  # new clients: counted, in this mock
    payload = json.loads((EVENTS_DIR / "product_view.json").read_text())
    body = json.dumps(payload if per_request == 1 else [payload] * per_request)
    context = SimpleNamespace(aws_request_id="cost-bench")
    requests = events // per_request
    counted.calls.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        for n in range(requests):
            response = handler.handler(http_api_event(body), context)
            if response["statusCode"] != 200:
                raise SystemExit(f"request {n} was refused: {response}")
    ingest_calls = Counter(counted.calls)

    # the ETL's own listing and reading of every hour the objects are under
    counted.calls.clear()
    etl = etl_s3.make_client(4)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    listed = [obj for objs in etl_s3.list_hours(etl, BUCKET, [now]).values() for obj in objs]
    read = list(etl_s3.fetch_all(etl, BUCKET, listed, concurrency=4, max_bytes=1 << 30))
    etl_calls = Counter(counted.calls)
    return {
        "requests": requests,
        "events": requests * per_request,
        "ingest": ingest_calls,
        "etl": etl_calls,
        "objects": len(read),
    }


def dollars_per_million(
    sink: str, run: dict[str, Any], counted: Counted, prices: dict[str, float], args: Any
) -> tuple[float, dict[str, float]]:
    """$ per million events, by component."""
    events = run["events"]
    per_event: dict[str, float] = {
        "HTTP API": run["requests"] / events * prices["http_api_request"],
        "Lambda requests": run["requests"] / events * prices["lambda_request"],
    }
    if sink == "s3":
        per_event["S3 PUT"] = run["ingest"]["s3.PutObject"] / events * prices["s3_put"]
        per_event["ETL S3 GET"] = run["etl"]["s3.GetObject"] / events * prices["s3_get"]
        per_event["ETL S3 LIST"] = run["etl"]["s3.ListObjectsV2"] / events * prices["s3_list"]
    else:
        billed = counted.billed_units * prices["firehose_billing_increment_bytes"]
        per_event["Firehose ingestion"] = billed / 1024**3 / events * prices["firehose_ingested_gb"]
        bytes_per_hour = counted.record_bytes / events * args.per_hour
        objects_per_hour = max(
            math.ceil(bytes_per_hour / (args.buffer_mib * 1024 * 1024)),
            math.ceil(3600 / args.buffer_seconds),
        )
        objects_per_event = objects_per_hour / args.per_hour
        per_event["S3 PUT (Firehose, modelled)"] = objects_per_event * prices["s3_put"]
        per_event["ETL S3 GET (modelled)"] = objects_per_event * prices["s3_get"]
        per_event["ETL S3 LIST (modelled)"] = (
            math.ceil(objects_per_hour / 1000) / args.per_hour * prices["s3_list"]
        )
    parts = {name: value * 1e6 for name, value in per_event.items()}
    return sum(parts.values()), parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per run (default 3000)")
    parser.add_argument("--per-hour", type=int, default=1_000_000, help="traffic for the model")
    parser.add_argument("--buffer-mib", type=float, default=5.0, help="Firehose buffer size")
    parser.add_argument("--buffer-seconds", type=int, default=300, help="Firehose interval")
    args = parser.parse_args(argv)
    price_file = tomllib.loads(PRICES.read_text())
    prices = price_file["prices"]
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        os.environ.pop(name, None)
    # moto accepts any credentials; nothing leaves this process
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # noqa: S106
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.pop("LOG_LEVEL", None)

    print(
        f"Prices: {PRICES.name}, {price_file['region']}, recorded {price_file['recorded']}; "
        f"model: {args.per_hour:,} events/hour, Firehose buffer {args.buffer_mib:g} MiB "
        f"or {args.buffer_seconds} s"
    )
    print(
        f"\n{'sink':<9} {'events/req':>10} {'requests':>9} {'ingest calls':>13} "
        f"{'records':>8} {'5KB units':>9} {'bytes/event':>11} {'lab GET':>8} {'lab LIST':>8} "
        f"{'$/M events':>11}"
    )
    breakdowns = []
    for sink in ("s3", "firehose"):
        for size in SIZES:
            counted = Counted()
            counted.increment = int(prices["firehose_billing_increment_bytes"])
            with mock_aws():
                boto3.setup_default_session(region_name=REGION)
                boto3.DEFAULT_SESSION.events.register("before-parameter-build", counted)
                run = run_sink(sink, size, args.events, counted)
                boto3.DEFAULT_SESSION = None
            total, parts = dollars_per_million(sink, run, counted, prices, args)
            breakdowns.append((sink, size, parts))
            calls = sum(run["ingest"].values())
            per_event_bytes = (
                counted.record_bytes / run["events"] if sink == "firehose" else float("nan")
            )
            print(
                f"{sink:<9} {size:>10} {run['requests']:>9,} {calls:>13,} "
                f"{counted.records:>8,} {counted.billed_units:>9,} {per_event_bytes:>11.0f} "
                f"{run['etl']['s3.GetObject']:>8,} {run['etl']['s3.ListObjectsV2']:>8,} "
                f"{total:>11.2f}"
            )
    print(
        "(lab GET/LIST: the ETL's requests on the lab's bucket; for firehose, moto wrote one"
        " object per call,\n which Firehose would buffer: the dollars use the modelled objects)"
    )
    print("\n$ per million events, by component:")
    for sink, size, parts in breakdowns:
        shown = ", ".join(f"{name} {value:.3f}" for name, value in parts.items())
        print(f"  {sink:<9} {size:>3}/req: {shown}")
    s3_one = sum(next(p for s, n, p in breakdowns if (s, n) == ("s3", 1)).values())
    fh_one = sum(next(p for s, n, p in breakdowns if (s, n) == ("firehose", 1)).values())
    verdict = "met" if fh_one <= 1.50 else "NOT met"
    print(
        f"\nTarget (firehose, 1 event/request, at most $1.50 per million): ${fh_one:.2f}, "
        f"{verdict}; s3 at 1 event/request: ${s3_one:.2f} (about $6.40 expected)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
