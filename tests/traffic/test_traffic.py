"""The traffic generator (clickstream_tools.traffic) against the lab's endpoint and the
real ingest handler."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clickstream_tools import datagen, traffic
from local_endpoint import run_endpoint

from .conftest import stored_events, stored_objects

SRC = Path(__file__).resolve().parents[2] / "src"
TOOL = ("-m", "clickstream_tools.traffic")


def endpoint_url(endpoint: Any) -> str:
    return f"{endpoint.url}/clickstream"


def run(url: str, **settings: Any) -> tuple[dict[str, Any], list[traffic.Outcome]]:
    """One run through the library: its summary and every request's outcome."""
    outcomes: list[traffic.Outcome] = []
    options = traffic.Options(url=url, **settings)
    summary = traffic.Runner(options, on_result=outcomes.append).run()
    return summary, outcomes


def planned(**settings: Any) -> list[traffic.Request]:
    return list(traffic.plan(traffic.Options(url="http://127.0.0.1:9/clickstream", **settings)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- good traffic


def test_every_event_sent_is_accepted_and_stored_exactly_once(ingest_endpoint, empty_bucket):
    summary, outcomes = run(endpoint_url(ingest_endpoint), count=120, seed=11, concurrency=4)

    assert summary["ok"], summary["problems"]
    assert summary["events_sent"] == summary["events_accepted"] == 120
    assert summary["status_codes"] == {"200": 120}
    assert summary["errors"] == {}
    assert summary["bad"]["requests"] == 0
    sent = {json.loads(o.request.body)["eventId"]: json.loads(o.request.body) for o in outcomes}
    assert len(sent) == 120
    objects = stored_objects(empty_bucket)
    assert len(objects) == 120
    stored = {}
    for key, document in objects.items():
        ingest = document.pop("_ingest")
        stored[document["eventId"]] = document
        # the object's hour is one the summary names for the ETL
        assert f"{key[7:11]}-{key[12:14]}-{key[15:17]}T{key[18:20]}" in summary["hours_utc"]
        assert ingest["userAgent"] in datagen.USER_AGENTS
    assert stored == sent  # the browser payloads, unchanged, each once
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert summary["first_send_utc"] <= summary["last_send_utc"]
    assert summary["etl_from"] == summary["hours_utc"][0]


def test_batches_carry_every_event_once(ingest_endpoint, empty_bucket):
    summary, outcomes = run(endpoint_url(ingest_endpoint), count=45, batch=10, seed=5)

    assert summary["ok"], summary["problems"]
    assert summary["requests_sent"] == 5  # 10+10+10+10+5
    assert summary["events_accepted"] == 45
    sent_ids = [i for o in outcomes for i in o.request.event_ids]
    objects = stored_objects(empty_bucket)
    assert all(key.rsplit("/", 1)[1].startswith("batch-") for key in objects)
    assert sorted(e["eventId"] for e in stored_events(empty_bucket)) == sorted(sent_ids)
    assert len(set(sent_ids)) == 45


def test_sessions_follow_the_catalogue_with_product_context():
    requests = planned(count=3000, seed=3)
    events = [json.loads(r.body) for r in requests]
    names = Counter(e["eventName"] for e in events)
    # the funnel and the other events of docs/contracts.md#event-catalogue, logins and
    # checkouts included
    for name in (*datagen.FUNNEL, "login_open", "login_success", "click", "wishlist_toggle"):
        assert names[name] > 0, name
    assert names["home_view"] > names["product_view"] / 10 > names["checkout_complete"] / 10
    for event in events:
        assert "_ingest" not in event
        if event["eventName"] in ("product_view", "add_to_cart_click"):
            product = event["product"]
            assert {"id", "name", "category", "price", "urlPath"} <= set(product)
            assert isinstance(product["price"], int)
    # sessions interleave, and each one's events keep the funnel's order
    by_session: dict[str, list[str]] = {}
    for event in events:
        by_session.setdefault(event["sessionId"], []).append(event["eventName"])
    order = {name: n for n, name in enumerate(datagen.FUNNEL)}
    for names_in_session in by_session.values():
        steps = [order[n] for n in names_in_session if n in ("checkout_start", "checkout_complete")]
        assert steps == sorted(steps)
    first_sessions = [e["sessionId"] for e in events[:20]]
    assert len(set(first_sessions)) > 1
    assert first_sessions != sorted(first_sessions, key=first_sessions.index)


# --------------------------------------------------------------------------- bad traffic


def test_bad_requests_are_refused_with_4xx_and_written_nowhere(ingest_endpoint, empty_bucket):
    summary, outcomes = run(
        endpoint_url(ingest_endpoint), count=20, bad_ratio=0.6, seed=2, concurrency=3
    )

    assert summary["ok"], summary["problems"]
    bad = [o for o in outcomes if o.request.bad]
    assert len(bad) == summary["bad"]["requests"] == summary["bad"]["refused"]
    assert {o.request.kind for o in bad} == set(traffic.BAD_KINDS)  # every kind occurred
    for outcome in bad:
        assert outcome.status == traffic.EXPECTED_STATUS[outcome.request.kind], outcome.request.kind
    assert summary["bad"]["unexpected"] == 0
    assert sum(sum(by.values()) for by in summary["bad"]["by_kind"].values()) == len(bad)
    assert summary["events_accepted"] == 20
    good_ids = {i for o in outcomes for i in o.request.event_ids}
    assert {e["eventId"] for e in stored_events(empty_bucket)} == good_ids
    assert len(stored_objects(empty_bucket)) == 20


def test_good_requests_that_fail_are_reported_apart_from_the_bad_ones(function_env, s3, tmp_path):
    env = {**function_env, "RAW_BUCKET_NAME": "no-such-bucket"}  # every write fails: 500
    with run_endpoint(None, tmp_path, env) as endpoint:
        summary, _ = run(endpoint_url(endpoint), count=6, bad_ratio=0.5, seed=4)

    assert not summary["ok"]
    assert summary["events_accepted"] == 0
    assert summary["good"]["rejected"] == {"500": summary["good"]["requests"]}
    assert summary["bad"]["refused"] == summary["bad"]["requests"] > 0  # still refused
    assert summary["problems"] == [
        f"{summary['good']['requests']} good requests were not accepted (500: "
        f"{summary['good']['requests']})"
    ]


def test_an_endpoint_that_does_not_answer_counts_as_errors():
    summary, _outcomes = run(
        f"http://127.0.0.1:{free_port()}/clickstream", count=3, timeout=2, concurrency=1
    )

    assert not summary["ok"]
    assert summary["errors"] == {"connection refused": 3}
    assert summary["good"]["errors"] == {"connection refused": 3}
    assert summary["latency_ms"] is None
    assert summary["hours_utc"] == []
    assert "3 good requests got no answer (connection refused: 3)" in summary["problems"]


def test_https_to_a_plain_http_endpoint_is_a_tls_error(ingest_endpoint):
    plain = endpoint_url(ingest_endpoint).replace("http://", "https://")
    summary, _ = run(plain, count=2, concurrency=1)

    assert not summary["ok"]
    assert summary["errors"] == {"TLS error": 2}


def test_hours_cover_the_first_send_to_the_last_answer():
    def epoch(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    assert traffic.hours_between(
        epoch("2025-03-01T22:59:59.9"), epoch("2025-03-02T00:00:00.1")
    ) == [
        "2025-03-01T22",
        "2025-03-01T23",
        "2025-03-02T00",
    ]
    assert traffic.hours_between(epoch("2025-03-01T10:00"), epoch("2025-03-01T10:59")) == [
        "2025-03-01T10"
    ]


def test_origin_is_sent_and_the_cors_answer_checked(ingest_endpoint, empty_bucket):
    summary, outcomes = run(
        endpoint_url(ingest_endpoint), count=4, origin="https://shop.example", bad_ratio=0.3
    )

    assert summary["ok"], summary["problems"]
    assert summary["cors_missing"] == 0
    assert all(("Origin", "https://shop.example") in o.request.headers for o in outcomes)


# --------------------------------------------------------------------------- schedule and seed


def test_the_schedule_paces_events_at_the_rate():
    singles = planned(count=10, rate=40)
    assert [r.offset for r in singles] == [k / 40 for k in range(10)]

    batches = planned(count=50, rate=100, batch=10)
    assert [r.offset for r in batches] == [0.0, 0.1, 0.2, 0.3, 0.4]

    mixed = planned(count=30, rate=10, bad_ratio=0.3, seed=8)
    units_before = 0
    for request in mixed:
        assert request.offset == units_before / 10
        units_before += len(request.event_ids) or 1
    assert any(r.bad for r in mixed)

    timed = planned(duration=2, rate=25)
    assert len(timed) == 50
    assert timed[-1].offset < 2

    assert all(r.offset is None for r in planned(count=5))  # rate 0: unpaced


def test_requests_leave_on_schedule_and_never_early(ingest_endpoint, empty_bucket):
    summary, outcomes = run(endpoint_url(ingest_endpoint), count=30, rate=150, concurrency=2)

    assert summary["ok"], summary["problems"]
    assert all(o.sent_at >= o.request.offset for o in outcomes)
    assert summary["schedule_lag_ms"]["max"] >= 0
    # the run cannot end before the last scheduled send
    assert summary["elapsed_s"] >= max(o.request.offset for o in outcomes)


def test_duration_without_rate_stops_taking_requests_in_time(ingest_endpoint, empty_bucket):
    summary, _ = run(endpoint_url(ingest_endpoint), duration=0.5, concurrency=2)

    assert summary["ok"], summary["problems"]
    assert summary["events_accepted"] == summary["events_sent"] > 0
    assert len(stored_objects(empty_bucket)) == summary["events_sent"]


def test_the_same_seed_gives_the_same_requests():
    first = planned(count=200, seed=9, bad_ratio=0.2, batch=3)
    second = planned(count=200, seed=9, bad_ratio=0.2, batch=3)
    assert first == second  # bodies, ids, headers, kinds, schedule
    assert planned(count=200, seed=10, bad_ratio=0.2, batch=3) != first

    # the good events do not depend on the bad requests mixed in, nor on batching
    plain = [json.loads(r.body) for r in planned(count=60, seed=9)]
    mixed = [json.loads(r.body) for r in planned(count=60, seed=9, bad_ratio=0.4) if not r.bad]
    batched = [e for r in planned(count=60, seed=9, batch=7) for e in json.loads(r.body)]
    assert plain == mixed == batched


# --------------------------------------------------------------------------- command line


def test_command_line_writes_the_json_summary_and_exits_0(ingest_endpoint, empty_bucket, tmp_path):
    out = tmp_path / "summary.json"
    # the system's python3, outside the virtualenv, with only src/ on its path: the tool
    # needs nothing but the standard library
    python = "python3" if _stdlib_python_ok() else sys.executable
    result = subprocess.run(
        [
            python,
            *TOOL,
            "--url",
            endpoint_url(ingest_endpoint),
            "--count",
            "25",
            "--rate",
            "200",
            "--bad-ratio",
            "0.2",
            "--seed",
            "3",
            "--json",
            str(out),
            "--accepted-ids",
            str(tmp_path / "ids.txt"),
            "--progress",
            "lines",
        ],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(out.read_text())
    assert summary["ok"] is True
    assert summary["events_accepted"] == 25
    assert summary["bad"]["requests"] == summary["bad"]["refused"] > 0
    now_hour = f"{datetime.now(UTC):%Y-%m-%dT%H}"
    assert summary["hours_utc"][-1] <= now_hour
    assert "accepted     25 of 25 events" in result.stdout
    assert "OK: every good request was accepted and every bad one refused with 4xx" in (
        result.stdout
    )
    stored_ids = sorted(e["eventId"] for e in stored_events(empty_bucket))
    assert len(stored_ids) == 25
    assert sorted((tmp_path / "ids.txt").read_text().splitlines()) == stored_ids


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_sending_and_still_accounts_for_every_request(
    ingest_endpoint, empty_bucket, tmp_path
):
    out = tmp_path / "summary.json"
    before = len(ingest_endpoint.access_log())
    process = subprocess.Popen(
        [
            *(sys.executable, *TOOL, "--url", endpoint_url(ingest_endpoint)),
            *("--duration", "60", "--rate", "20", "--json", str(out), "--progress", "none"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, however the test run was started: a shell starts
        # background jobs with SIGINT ignored, and Python keeps an ignored SIGINT.
        preexec_fn=_default_sigint,
    )
    try:
        ingest_endpoint.wait_for_access_log(before + 5)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130
    summary = json.loads(out.read_text())
    assert summary["interrupted"] is True
    assert summary["ok"] is False
    assert "interrupted before the end of the run" in summary["problems"]
    assert 5 <= summary["events_accepted"] < 60 * 20
    assert summary["events_accepted"] == summary["events_sent"]  # in-flight requests finished
    assert len(stored_objects(empty_bucket)) == summary["events_accepted"]
    assert "FAILED: interrupted before the end of the run" in stdout


def _stdlib_python_ok() -> bool:
    """A python3 on PATH that is 3.11 or newer (the project's version)."""
    try:
        found = subprocess.run(
            ["python3", "-c", "import sys; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return False
    return found.stdout.strip() == "True"


def test_command_line_exits_1_with_the_reason_and_json_on_stdout(capsys):
    code = traffic.main(
        [
            "--url",
            f"http://127.0.0.1:{free_port()}/clickstream",
            "--count",
            "2",
            "--json",
            "-",
            "--progress",
            "none",
            "--timeout",
            "2",
        ]
    )

    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["ok"] is False
    assert "FAILED: 2 good requests got no answer (connection refused: 2)" in captured.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--url", "127.0.0.1:8080/clickstream", "--count", "1"], "must start with http://"),
        (["--url", "ftp://127.0.0.1/clickstream", "--count", "1"], "must start with http://"),
        (["--url", "http:///clickstream", "--count", "1"], "has no host"),
        (["--url", "http://127.0.0.1:8080", "--count", "1"], "has no path"),
        (["--url", "http://127.0.0.1:99999/x", "--count", "1"], "bad port"),
        (["--url", "http://h/c"], "exactly one of --count N or --duration"),
        (["--url", "http://h/c", "--count", "1", "--duration", "5"], "exactly one of"),
        (["--url", "http://h/c", "--count", "0"], "--count must be at least 1"),
        (["--url", "http://h/c", "--count", "ten"], "--count must be an integer"),
        (["--url", "http://h/c", "--duration", "-1"], "--duration must be a positive"),
        (["--url", "http://h/c", "--count", "1", "--rate", "-5"], "--rate must be 0"),
        (["--url", "http://h/c", "--count", "1", "--rate", "nan"], "--rate must be 0"),
        (["--url", "http://h/c", "--count", "1", "--concurrency", "0"], "--concurrency must"),
        (["--url", "http://h/c", "--count", "1", "--bad-ratio", "1"], "--bad-ratio must"),
        (["--url", "http://h/c", "--count", "1", "--batch", "101"], "--batch must be between"),
        (["--url", "http://h/c", "--count", "1", "--timeout", "0"], "--timeout must be"),
        (["--url", "http://h/c", "--count", "1", "--origin", "shop"], "--origin must look"),
        (["--url", "http://h/c", "--count", "1", "--json", "/no/such/dir/s.json"], "does not"),
        (["--url", "http://h/c", "--count", "1", "--accepted-ids", "/no/dir/i"], "does not"),
        (["--url", "http://h/c", "--count", "1", "--accepted-ids", "-"], "needs a file name"),
        (["--count", "1"], "the following arguments are required: --url"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(arguments, message, capsys):
    with pytest.raises(SystemExit) as exited:
        traffic.main(arguments)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# --------------------------------------------------------------------------- progress, datagen


def test_progress_bar_and_lines():
    options = traffic.Options(url="http://h/c", count=200)
    stats = traffic.Stats()
    for request in traffic.plan(options):
        if request.index == 50:
            break
        stats.add(traffic.Outcome(request, 200, None, 0.01, 0.0, 0.0, 0.0, True))
    bar = io.StringIO()
    traffic.Progress(stats, options, bar, "bar")._draw(final=True)
    assert bar.getvalue().startswith("\r 25% [#######---------------------] 50/200 events")
    assert bar.getvalue().endswith("\n")
    lines = io.StringIO()
    traffic.Progress(stats, options, lines, "lines")._draw(final=False)
    assert lines.getvalue().startswith("clickstream-traffic: 25% 50/200 events, 50 requests")
    assert traffic.Progress(stats, options, io.StringIO(), "auto").mode == "lines"  # no TTY


def test_datagen_post_sends_through_the_traffic_code(ingest_endpoint, empty_bucket):
    config = datagen.Config(seed=1, events=8, days=1)
    events = list(datagen.Generator(config).events())

    assert datagen.post(endpoint_url(ingest_endpoint), events) == 8
    stored = {e["eventId"]: e for e in stored_events(empty_bucket)}
    assert set(stored) == {e["eventId"] for e in events}
    with pytest.raises(ValueError, match="must start with http"):
        datagen.post("127.0.0.1:8080/clickstream", events)


def test_a_rate_the_endpoint_cannot_keep_up_with_gets_a_note_not_a_failure():
    options = traffic.Options(url="http://h/c", count=4, rate=100, concurrency=2)
    stats = traffic.Stats()
    for request in traffic.plan(options):
        late = request.offset + 0.8  # every request left 0.8 s after its slot
        stats.add(traffic.Outcome(request, 200, None, 0.7, late, 1e9, 1e9 + 0.7, True))

    summary = traffic.summarize(options, stats, 1e9, 1.5, interrupted=False)

    assert summary["ok"]
    assert summary["schedule_lag_ms"]["p50"] == pytest.approx(800)
    assert summary["notes"] == [
        "the endpoint answered more slowly than --rate 100 asked (half the requests left "
        "over 0.8 s late): each worker waits for its answer, so raise --concurrency (now 2) "
        "or lower --rate"
    ]
    assert "NOTE: the endpoint answered more slowly" in traffic.format_summary(summary)
    assert summary["hours_utc"] == ["2001-09-09T01"]  # 1e9 s after the epoch
