"""Fixtures: a moto server on a free port, and the local endpoint run as a real process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[3]
SERVER = REPO / "lambda_src" / "local_api" / "server.py"
INGEST_DIR = REPO / "lambda_src" / "ingest"
BUCKET = "clickstream-raw-lab"
REGION = "ap-southeast-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

# Handlers used to look at what the endpoint sends and how it maps what it gets back.
PROBE_HANDLERS = """
import json
import time


def handler(event, context):
    path = event["rawPath"]
    if path == "/raise":
        raise ValueError("the probe handler failed on purpose")
    if path == "/malformed":
        return {"statusCode": "200", "body": {"not": "a string"}}
    if path == "/no-status":
        return {"ok": True, "items": [1, 2]}
    if path == "/slow":
        open(event["queryStringParameters"]["marker"], "w").close()  # now in flight
        time.sleep(1.5)
    if path == "/binary-reply":
        return {"statusCode": 201, "headers": {"content-type": "image/png"},
                "cookies": ["a=1; Path=/", "b=2"], "body": "iVBORw0KGgo=",
                "isBase64Encoded": True}
    ctx = {name: getattr(context, name) for name in (
        "aws_request_id", "function_name", "function_version", "invoked_function_arn",
        "memory_limit_in_mb", "log_group_name", "log_stream_name")}
    ctx["remaining_ms"] = context.get_remaining_time_in_millis()
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "context": ctx})}
"""


class RunningEndpoint:
    """The endpoint process, its base URL, and its stderr (access log) so far."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr_path: Path) -> None:
        self.process = process
        self.url = url
        self.stderr_path = stderr_path

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.stderr_path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def access_log(self) -> list[dict[str, Any]]:
        return [record for record in self.log_records() if "httpMethod" in record]

    def wait_for_access_log(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The access log once it holds ``count`` lines: each is written after its reply."""
        deadline = time.monotonic() + timeout
        while len(lines := self.access_log()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return lines

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@contextlib.contextmanager
def run_endpoint(
    handler_dir: Path, tmp_path: Path, env: dict[str, str], *args: str
) -> Iterator[RunningEndpoint]:
    stderr_path = tmp_path / f"endpoint-{time.monotonic_ns()}.err"
    with stderr_path.open("wb") as stderr, (tmp_path / "endpoint.out").open("ab") as stdout:
        process = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", "0", "--handler-dir", str(handler_dir), *args],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    endpoint = None
    try:
        deadline = time.monotonic() + 30
        while endpoint is None:
            for line in stderr_path.read_text().splitlines():
                with contextlib.suppress(ValueError):  # a line still being written
                    record = json.loads(line)
                    if record.get("message") == "listening":
                        endpoint = RunningEndpoint(process, record["url"], stderr_path)
            if endpoint is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"endpoint did not start:\n{stderr_path.read_text()}")
                time.sleep(0.05)
        yield endpoint
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3(moto_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


@pytest.fixture
def empty_bucket(s3: Any) -> Any:
    """The raw bucket, emptied before the test."""
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return s3


@pytest.fixture(scope="session")
def function_env(moto_endpoint: str) -> dict[str, str]:
    """The ingest function's environment in the lab: moto through AWS_ENDPOINT_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS, AWS_ENDPOINT_URL=moto_endpoint, RAW_BUCKET_NAME=BUCKET)
    return env


@pytest.fixture(scope="module")
def ingest_endpoint(
    function_env: dict[str, str], s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:
    """The endpoint running lambda_src/ingest against moto, as the lab runs it."""
    with run_endpoint(
        INGEST_DIR, tmp_path_factory.mktemp("ingest"), function_env, "--api-id", "lab0api001"
    ) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("probe")
    (directory / "probe.py").write_text(PROBE_HANDLERS)
    return directory


@pytest.fixture(scope="module")
def probe_endpoint(
    probe_dir: Path, function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:
    """The endpoint running the probe handler, with a $default catch-all route."""
    with run_endpoint(
        probe_dir,
        tmp_path_factory.mktemp("probe-run"),
        function_env,
        "--handler",
        "probe.handler",
        "--catch-all",
        "--cors-allow-origin",
        "https://shop.example",
    ) as endpoint:
        yield endpoint
