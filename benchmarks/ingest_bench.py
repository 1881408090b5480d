"""Ingest Lambda micro-benchmark: per-event overhead and import (cold start) time.

    .venv/bin/python benchmarks/ingest_bench.py [--calls 5000] [--rounds 5] [--imports 7]

Prints figures only, each next to a plain baseline measured in the same run:

* per-event handler overhead with S3 stubbed out (a fake client object whose
  ``put_object`` only keeps the body's length), for one event per request and
  for a 100-event batch, against ``json.loads`` + ``json.dumps`` of the same
  payload;
* the module's import time in a fresh interpreter (median of several runs),
  against importing ``json`` and importing ``boto3`` (the one dependency), plus
  the whole process (``python -c pass`` vs ``python -c "import handler"``),
  import + S3 client creation (what the first request pays besides the PUT),
  and the import with ``handler.py`` already compiled (a ``.pyc`` in the zip).

The handler's log lines are discarded while timing (they are part of the cost).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO / "tests" / "ingest" / "events"
SAMPLE_EVENT = EVENTS_DIR / "http_api_post_clickstream.json"

IMPORT_HANDLER = "from clickstream_ingest import handler"

PAYLOAD = json.loads((EVENTS_DIR / "product_view.json").read_text())


class FakeS3:
    """Stands in for the S3 client: no network, keeps only the written size."""

    def __init__(self) -> None:
        self.bytes_written = 0

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.bytes_written += len(kwargs["Body"])
        return {}


def http_api_event(body: str) -> dict[str, Any]:
    """The unit tests' sample HTTP API payload 2.0 event, with ``body``."""
    event = json.loads(SAMPLE_EVENT.read_text())
    event["body"] = body
    return event


def load_handler() -> Any:
    from clickstream_ingest import handler

    return handler


def per_call_us(function: Any, calls: int, rounds: int) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    results = []
    sink = io.StringIO()
    for _ in range(rounds):
        with contextlib.redirect_stdout(sink):
            started = time.perf_counter()
            for _ in range(calls):
                function()
            elapsed = time.perf_counter() - started
        sink.seek(0)
        sink.truncate()
        results.append(elapsed / calls * 1e6)
    return statistics.median(results)


def overhead(calls: int, rounds: int) -> list[tuple[str, float, float]]:
    os.environ["RAW_BUCKET_NAME"] = "bench-raw-bucket"
    os.environ.pop("LOG_LEVEL", None)
    handler = load_handler()
    fake = FakeS3()
    handler._s3_client = fake
    context = SimpleNamespace(aws_request_id="bench-request")

    rows = []
    for label, document, events in (
        ("1 event / request", PAYLOAD, 1),
        ("100-event batch", [PAYLOAD] * 100, 100),
    ):
        body = json.dumps(document)
        event = http_api_event(body)
        with contextlib.redirect_stdout(io.StringIO()):
            check = handler.handler(event, context)
        if check["statusCode"] != 200:  # the figures are for the success path only
            raise SystemExit(f"the handler refused the benchmark payload: {check}")

        def invoke(event: dict[str, Any] = event) -> None:
            handler.handler(event, context)

        def baseline(body: str = body) -> None:
            json.dumps(json.loads(body))

        batch_calls = max(1, calls // events)
        rows.append(
            (
                label,
                per_call_us(invoke, batch_calls, rounds) / events,
                per_call_us(baseline, batch_calls, rounds) / events,
            )
        )
    return rows


def run_python_ms(code: str, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(figure printed by ``code`` or NaN, process wall time), in ms, for one fresh interpreter."""
    started = time.perf_counter()
    output = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True, env=env
    ).stdout
    wall = (time.perf_counter() - started) * 1000
    return (float(output) if output.strip() else float("nan")), wall


def timed_import(statement: str) -> str:
    return (
        "import time\n"
        "t = time.perf_counter()\n"
        f"{statement}\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )


def import_times(repetitions: int) -> list[tuple[str, float, float]]:
    """Each case in a fresh interpreter; cases interleaved so load drift hits all alike."""
    no_pyc = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    credentials = (
        "import os\n"
        "os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1')\n"
        "os.environ.setdefault('AWS_ACCESS_KEY_ID', 'x')\n"
        "os.environ.setdefault('AWS_SECRET_ACCESS_KEY', 'x')\n"
    )
    with tempfile.TemporaryDirectory() as prefix:
        # Lambda cannot write __pycache__ under /var/task: without a .pyc in the zip,
        # the handler's modules are compiled on every cold start.  The cached case has one.
        cached = {k: v for k, v in no_pyc.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = prefix
        cases = [
            ("python -c pass", "pass", no_pyc),
            ("import json (baseline)", timed_import("import json"), no_pyc),
            ("import boto3 (dependency)", timed_import("import boto3"), no_pyc),
            ("import handler, no .pyc", timed_import(IMPORT_HANDLER), no_pyc),
            ("import handler, .pyc cached", timed_import(IMPORT_HANDLER), cached),
            (
                "import handler + S3 client",
                credentials + timed_import(IMPORT_HANDLER + "\nhandler._s3()"),
                no_pyc,
            ),
        ]
        run_python_ms(cases[4][1], REPO, cached)  # writes the .pyc files
        samples: list[list[tuple[float, float]]] = [[] for _ in cases]
        for _ in range(repetitions):
            for index, (_, code, env) in enumerate(cases):
                samples[index].append(run_python_ms(code, REPO, env))
    return [
        (
            label,
            statistics.median(inner for inner, _ in runs),
            statistics.median(wall for _, wall in runs),
        )
        for (label, _, _), runs in zip(cases, samples, strict=True)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per timing round")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (median)")
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters per figure")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}  payload {len(json.dumps(PAYLOAD))} bytes")
    print()
    print("per-event cost, S3 stubbed (median of rounds)")
    print(f"  {'case':<22} {'handler µs':>11} {'baseline µs':>12} {'overhead µs':>12} {'ratio':>6}")
    for label, handler_us, baseline_us in overhead(args.calls, args.rounds):
        print(
            f"  {label:<22} {handler_us:>11.1f} {baseline_us:>12.1f} "
            f"{handler_us - baseline_us:>12.1f} {handler_us / baseline_us:>6.1f}"
        )
    print("  baseline: json.loads + json.dumps of the same body")
    print()
    print(f"import time in a fresh interpreter (median of {args.imports})")
    print(f"  {'case':<28} {'import ms':>10} {'process ms':>11}")
    for label, inner_ms, wall_ms in import_times(args.imports):
        shown = "" if inner_ms != inner_ms else f"{inner_ms:.1f}"  # NaN: not an import figure
        print(f"  {label:<28} {shown:>10} {wall_ms:>11.1f}")
    print("  baselines: python -c pass (process), import json (module)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
