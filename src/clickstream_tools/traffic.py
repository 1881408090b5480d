#!/usr/bin/env python3
"""Send realistic clickstream traffic to an ingest endpoint and report how it answered.

    .venv/bin/clickstream-traffic --url http://127.0.0.1:8080/clickstream \\
        --count 1000 --rate 50 --seed 7 --bad-ratio 0.05 --json summary.json

Good requests carry the browser payloads of ``clickstream_tools.datagen`` sessions (home ->
category -> product views with product context, cart, logins, checkouts; the event
catalogue of docs/contracts.md#event-catalogue),
one event per request or ``--batch N`` events as a JSON array.  With
``--bad-ratio R`` a share R of the requests is deliberately bad, drawn from
``BAD_KINDS``: every one of them is something the ingest contract refuses with a
4xx and writes nowhere.  The same ``--seed`` always gives the same requests, ids
included; the good events do not depend on ``--bad-ratio``.

Requests are paced by an absolute schedule (request k leaves at ``start + units
before k / rate``, so slow answers never make the run drift) over ``--concurrency``
worker threads, each with its own keep-alive connection.  A progress bar goes to
stderr on a terminal (a line every few seconds otherwise); a summary follows, and
``--json FILE`` (``-`` for stdout) writes it as JSON.

Exit status: 0 when every good request was accepted (2xx) and every bad one was
refused with a 4xx; 1 otherwise (the summary says what went wrong); 2 for bad
arguments; 130 when interrupted.  Standard library only, plus the sibling
``clickstream-datagen``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import random
import socket
import ssl
import sys
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TextIO
from urllib.parse import urlsplit

from clickstream_tools import datagen

PROG = "clickstream-traffic"
DEFAULT_MAX_BODY_BYTES = 262_144  # the ingest function's MAX_BODY_BYTES default
DEFAULT_MAX_BATCH_EVENTS = 100  # the ingest function's MAX_BATCH_EVENTS default
OPEN_SESSIONS = 8  # visits in progress at once: their events interleave as on a live site
SESSION_START = datetime(2025, 1, 1, tzinfo=UTC)  # only feeds datagen's _ingest, dropped here
JSON_TYPE = "application/json"
LAG_NOTE_MS = 500  # a median lag behind the schedule above this gets a note in the summary

# Deliberately bad requests and the status the contract gives each (the ingest handler,
# docs/contracts.md#ingest-lambda; API Gateway's routing, docs/contracts.md#http-api).
# The content type alone is not checked by the handler (a JSON body sent as text/plain
# is stored), so it is no kind here: ``form_encoded`` is a form post, refused because
# its body is not JSON.
EXPECTED_STATUS = {
    "invalid_json": 400,  # a truncated JSON object
    "missing_event_name": 400,  # no eventName
    "empty_event_name": 400,  # eventName ""
    "event_name_not_string": 400,  # eventName 42
    "malformed_event_name": 400,  # eventName outside [A-Za-z][A-Za-z0-9_.:-]{0,63}
    "reserved_ingest_key": 400,  # the client sends its own _ingest block
    "not_an_object": 400,  # a JSON string
    "empty_body": 400,  # POST without a body
    "form_encoded": 400,  # application/x-www-form-urlencoded, not JSON
    "oversized_body": 413,  # more than --max-body-bytes
    "oversized_batch": 413,  # more than --max-batch-events events in an array
    "empty_batch": 400,  # []
    "invalid_batch_element": 400,  # an array with one event lacking eventName
    "wrong_method": 404,  # GET: the HTTP API has no such route
}
BAD_KINDS = tuple(EXPECTED_STATUS)


class UsageError(Exception):
    """A bad command-line value: reported on stderr with exit status 2."""


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query string, as sent on the request line
    url: str


@dataclass(frozen=True)
class Options:
    url: str
    count: int | None = None  # good events to send
    duration: float | None = None  # seconds to send for
    rate: float = 0.0  # events per second; 0 = as fast as the endpoint answers
    seed: int = 7
    concurrency: int = 4
    bad_ratio: float = 0.0  # share of requests that are deliberately bad
    batch: int = 1  # events per good request; >1 sends JSON arrays
    origin: str | None = None
    timeout: float = 10.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS
    target: Target = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", parse_url(self.url))
        if (self.count is None) == (self.duration is None):
            raise UsageError("give exactly one of --count N or --duration SECONDS")
        if self.count is not None and self.count < 1:
            raise UsageError(f"--count must be at least 1, got {self.count}")
        if self.duration is not None and not (0 < self.duration < math.inf):
            raise UsageError(
                f"--duration must be a positive number of seconds, got {self.duration}"
            )
        if not (0 <= self.rate < math.inf):
            raise UsageError(f"--rate must be 0 (unpaced) or a positive number, got {self.rate}")
        if not 1 <= self.concurrency <= 256:
            raise UsageError(f"--concurrency must be between 1 and 256, got {self.concurrency}")
        if not 0 <= self.bad_ratio < 1:
            raise UsageError(f"--bad-ratio must be at least 0 and below 1, got {self.bad_ratio}")
        if self.max_batch_events < 1:
            raise UsageError(f"--max-batch-events must be at least 1, got {self.max_batch_events}")
        if not 1 <= self.batch <= self.max_batch_events:
            raise UsageError(
                f"--batch must be between 1 and --max-batch-events ({self.max_batch_events}), "
                f"got {self.batch}"
            )
        if not (0 < self.timeout < math.inf):
            raise UsageError(f"--timeout must be a positive number of seconds, got {self.timeout}")
        if self.max_body_bytes < 1024:
            raise UsageError(f"--max-body-bytes must be at least 1024, got {self.max_body_bytes}")
        if self.origin is not None and not urlsplit(self.origin).netloc:
            raise UsageError(f"--origin must look like https://shop.example, got {self.origin!r}")


def parse_url(url: str) -> Target:
    split = urlsplit(url)
    if split.scheme not in ("http", "https"):
        raise UsageError(
            f"--url must start with http:// or https://, got {url!r} "
            "(for example http://127.0.0.1:8080/clickstream)"
        )
    if not split.hostname:
        raise UsageError(f"--url has no host: {url!r}")
    try:
        port = split.port or (443 if split.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"--url has a bad port: {url!r}") from None
    if split.path in ("", "/"):
        raise UsageError(
            f"--url has no path: the ingest route is POST /clickstream, "
            f"for example {split.scheme}://{split.netloc}/clickstream"
        )
    if split.fragment:
        raise UsageError(f"--url must not have a #fragment: {url!r}")
    path = split.path + (f"?{split.query}" if split.query else "")
    return Target(split.scheme, split.hostname, port, path, url)


# --------------------------------------------------------------------------- requests


class Request(NamedTuple):
    index: int
    kind: str  # "event", "batch", or one of BAD_KINDS
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    event_ids: tuple[str, ...]  # the good events carried (empty for a bad request)
    units: int  # events for pacing: the events carried, 1 for a bad request
    offset: float | None  # scheduled seconds after the start; None when unpaced

    @property
    def bad(self) -> bool:
        return self.kind in EXPECTED_STATUS


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class EventStream:
    """(browser payload, the visitor's User-Agent) of interleaved datagen sessions, seeded."""

    def __init__(self, seed: int) -> None:
        self.generator = datagen.Generator(datagen.Config(seed=seed))
        self.rng = random.Random(f"traffic:{seed}:interleave")  # noqa: S311 - test data
        self.open: list[list[dict[str, Any]]] = []

    def __iter__(self) -> Iterator[tuple[dict[str, Any], str]]:
        return self

    def __next__(self) -> tuple[dict[str, Any], str]:
        while len(self.open) < OPEN_SESSIONS:
            self.open.append(self.generator.session(SESSION_START))
        index = self.rng.randrange(len(self.open))
        session = self.open[index]
        event = session.pop(0)
        if not session:
            self.open.pop(index)
        # the browser sends the payload; the server adds _ingest
        return event, event.pop("_ingest")["userAgent"]


class BadRequests:
    """Deliberately bad requests: kinds in seeded shuffled rounds, so all of them occur."""

    def __init__(self, seed: int, max_body_bytes: int, max_batch_events: int) -> None:
        self.rng = random.Random(f"traffic:{seed}:bad")  # noqa: S311 - test data
        self.max_body_bytes = max_body_bytes
        self.max_batch_events = max_batch_events
        self.round: list[str] = []

    def _event(self, **changes: Any) -> dict[str, Any]:
        event = {
            "eventId": datagen.seeded_uuid(self.rng),
            "eventName": "page_view",
            "clientId": f"c-{datagen.seeded_uuid(self.rng)}",
            "sessionId": f"s-{datagen.seeded_uuid(self.rng)}",
            "pageUrl": datagen.SITE + "/",
        }
        event.update(changes)
        return event

    def next_kind(self) -> str:
        if not self.round:
            self.round = list(BAD_KINDS)
            self.rng.shuffle(self.round)
        return self.round.pop()

    def build(self, kind: str) -> tuple[str, str | None, bytes]:
        """(method, content type, body) of one bad request of ``kind``."""
        if kind == "invalid_json":
            text = _json(self._event())
            return "POST", JSON_TYPE, text[: self.rng.randrange(1, len(text) - 1)]
        if kind == "missing_event_name":
            event = self._event()
            del event["eventName"]
            return "POST", JSON_TYPE, _json(event)
        if kind == "empty_event_name":
            return "POST", JSON_TYPE, _json(self._event(eventName=""))
        if kind == "event_name_not_string":
            return "POST", JSON_TYPE, _json(self._event(eventName=42))
        if kind == "malformed_event_name":
            return "POST", JSON_TYPE, _json(self._event(eventName="add to cart!"))
        if kind == "reserved_ingest_key":
            return "POST", JSON_TYPE, _json(self._event(_ingest={"sourceIp": "10.0.0.1"}))
        if kind == "not_an_object":
            return "POST", JSON_TYPE, _json("page_view")
        if kind == "empty_body":
            return "POST", JSON_TYPE, b""
        if kind == "form_encoded":
            form = f"eventName=page_view&eventId={self._event()['eventId']}"
            return "POST", "application/x-www-form-urlencoded", form.encode()
        if kind == "oversized_body":
            return "POST", JSON_TYPE, _json(self._event(padding="x" * (self.max_body_bytes + 1)))
        if kind == "oversized_batch":
            events = [self._event() for _ in range(self.max_batch_events + 1)]
            return "POST", JSON_TYPE, _json(events)
        if kind == "empty_batch":
            return "POST", JSON_TYPE, b"[]"
        if kind == "invalid_batch_element":
            broken = self._event()
            del broken["eventName"]
            return "POST", JSON_TYPE, _json([self._event(), broken])
        if kind == "wrong_method":
            return "GET", None, b""
        raise ValueError(f"unknown bad request kind {kind!r}")


def plan(options: Options) -> Iterator[Request]:
    """Every request of the run, in order, with its scheduled offset (pure and seeded).

    ``--count`` ends the plan after that many good events; ``--duration`` with a rate
    ends it at the first request scheduled at or after the duration.  Without a rate
    and with a duration the plan is endless: the runner stops taking requests in time.
    """
    events = EventStream(options.seed)
    bad = BadRequests(options.seed, options.max_body_bytes, options.max_batch_events)
    mix = random.Random(f"traffic:{options.seed}:mix")  # noqa: S311 - test data
    base_headers: list[tuple[str, str]] = [("Accept", JSON_TYPE)]
    if options.origin:
        base_headers.append(("Origin", options.origin))
    good_left = options.count
    units = 0
    index = 0
    while good_left is None or good_left > 0:
        offset = units / options.rate if options.rate else None
        if offset is not None and options.duration is not None and offset >= options.duration:
            return
        if options.bad_ratio and mix.random() < options.bad_ratio:
            kind = bad.next_kind()
            method, content_type, body = bad.build(kind)
            headers = [*base_headers, ("User-Agent", datagen.USER_AGENTS[0])]
            if content_type:
                headers.append(("Content-Type", content_type))
            request = Request(index, kind, method, tuple(headers), body, (), 1, offset)
        else:
            size = options.batch if good_left is None else min(options.batch, good_left)
            drawn = [next(events) for _ in range(size)]
            payloads = [payload for payload, _agent in drawn]
            agent = drawn[0][1]
            body = _json(payloads if options.batch > 1 else payloads[0])
            headers = [*base_headers, ("User-Agent", agent), ("Content-Type", JSON_TYPE)]
            request = Request(
                index,
                "batch" if options.batch > 1 else "event",
                "POST",
                tuple(headers),
                body,
                tuple(p["eventId"] for p in payloads),
                size,
                offset,
            )
            if good_left is not None:
                good_left -= size
        units += request.units
        index += 1
        yield request


# --------------------------------------------------------------------------- sending


class Outcome(NamedTuple):
    request: Request
    status: int | None  # None: no answer (see error)
    error: str | None  # "timeout", "connection refused", ... when there was no answer
    latency: float  # seconds from sending to the end of the answer
    sent_at: float  # seconds after the start (monotonic)
    sent_wall: float  # epoch seconds when sent
    done_wall: float  # epoch seconds when answered or failed
    cors_ok: bool  # the answer allows the Origin (always True without --origin)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "closed without answer"
    if isinstance(exc, socket.gaierror):
        return "name resolution failed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate not trusted"
    if isinstance(exc, ssl.SSLError):
        return "TLS error"
    return type(exc).__name__


class Connection:
    """One worker's keep-alive connection, reopened after an error or a close."""

    RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.used = False  # a request already went over this connection

    def _open(self) -> http.client.HTTPConnection:
        if self.target.scheme == "https":
            return http.client.HTTPSConnection(
                self.target.host, self.target.port, timeout=self.timeout
            )
        return http.client.HTTPConnection(self.target.host, self.target.port, timeout=self.timeout)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.used = False

    def send(self, request: Request) -> tuple[int, dict[str, str]]:
        """Send and read the whole answer; a stale reused connection is retried once.

        A server may close an idle keep-alive connection just as a request leaves; such
        a request almost surely never reached the handler, so it goes again on a new
        connection (should it have, its eventId lets the ETL drop the second copy).
        """
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._open()
            reused = self.used
            try:
                self.conn.request(
                    request.method,
                    self.target.path,
                    body=request.body if request.method != "GET" else None,
                    headers=dict(request.headers),
                )
                response = self.conn.getresponse()
                response.read()
            except self.RETRYABLE:
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                self.close()
                raise
            self.used = True
            if response.will_close:
                self.close()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return response.status, headers
        raise AssertionError("unreachable")


# --------------------------------------------------------------------------- statistics


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:23] + "Z"


def hours_between(first: float, last: float) -> list[str]:
    """Every UTC hour ``YYYY-MM-DDTHH`` from ``first`` to ``last`` (epoch seconds)."""
    hour = datetime.fromtimestamp(first, UTC).replace(minute=0, second=0, microsecond=0)
    end = datetime.fromtimestamp(last, UTC)
    hours = []
    while hour <= end:
        hours.append(f"{hour:%Y-%m-%dT%H}")
        hour += timedelta(hours=1)
    return hours


class Stats:
    """Counters the workers update and the progress line and summary read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.events_sent = 0
        self.good_requests = 0
        self.good_accepted = 0
        self.events_accepted = 0
        self.good_rejected: Counter[str] = Counter()
        self.good_errors: Counter[str] = Counter()
        self.bad_requests = 0
        self.bad_refused = 0
        self.bad_by_kind: dict[str, Counter[str]] = {}
        self.bad_statuses: Counter[str] = Counter()
        self.bad_errors: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.cors_missing = 0
        self.latencies = array("d")
        self.lags = array("d")
        self.first_send: float | None = None
        self.last_send: float | None = None
        self.first_accepted_send: float | None = None
        self.last_accepted_done: float | None = None

    def add(self, outcome: Outcome) -> None:
        request = outcome.request
        with self.lock:
            self.requests += 1
            if self.first_send is None:
                self.first_send = outcome.sent_wall
            self.first_send = min(self.first_send, outcome.sent_wall)
            self.last_send = max(self.last_send or 0.0, outcome.sent_wall)
            if request.offset is not None:
                self.lags.append(max(0.0, outcome.sent_at - request.offset))
            if outcome.status is None:
                label = outcome.error or "error"
                self.errors[label] += 1
            else:
                label = str(outcome.status)
                self.statuses[label] += 1
                self.latencies.append(outcome.latency)
                if not outcome.cors_ok:
                    self.cors_missing += 1
            if request.bad:
                self.bad_requests += 1
                self.bad_by_kind.setdefault(request.kind, Counter())[label] += 1
                if outcome.status is None:
                    self.bad_errors[label] += 1
                else:
                    self.bad_statuses[label] += 1
                    if 400 <= outcome.status < 500:
                        self.bad_refused += 1
                return
            self.good_requests += 1
            self.events_sent += request.units
            if outcome.status is not None and 200 <= outcome.status < 300:
                self.good_accepted += 1
                self.events_accepted += request.units
                if self.first_accepted_send is None:
                    self.first_accepted_send = outcome.sent_wall
                self.first_accepted_send = min(self.first_accepted_send, outcome.sent_wall)
                self.last_accepted_done = max(self.last_accepted_done or 0.0, outcome.done_wall)
            elif outcome.status is None:
                self.good_errors[label] += 1
            else:
                self.good_rejected[label] += 1

    def snapshot(self) -> tuple[int, int, int, int, int]:
        """(requests, events sent, 2xx, 4xx, errors + 5xx) for the progress line."""
        with self.lock:
            ok = sum(n for code, n in self.statuses.items() if code.startswith("2"))
            client = sum(n for code, n in self.statuses.items() if code.startswith("4"))
            other = self.requests - ok - client
            return self.requests, self.events_sent, ok, client, other


# --------------------------------------------------------------------------- progress


class Progress:
    """A bar redrawn on a terminal, or a plain line every ``interval`` seconds."""

    def __init__(
        self, stats: Stats, options: Options, stream: TextIO, mode: str, interval: float = 5.0
    ) -> None:
        self.stats = stats
        self.options = options
        self.stream = stream
        self.mode = "bar" if mode == "auto" and stream.isatty() else mode
        if self.mode == "auto":
            self.mode = "lines"
        self.interval = 0.2 if self.mode == "bar" else interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self.started = time.monotonic()

    def start(self) -> None:
        self.started = time.monotonic()
        if self.mode != "none":
            self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join()
            self._draw(final=True)

    def _loop(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._draw(final=False)

    def _draw(self, final: bool) -> None:
        requests, events, ok, client, other = self.stats.snapshot()
        elapsed = time.monotonic() - self.started
        rate = events / elapsed if elapsed > 0 else 0.0
        if self.options.count is not None:
            done = min(1.0, events / self.options.count)
            where = f"{events}/{self.options.count} events"
            eta = (self.options.count - events) / rate if rate and done < 1 else 0.0
        else:
            assert self.options.duration is not None
            done = min(1.0, elapsed / self.options.duration)
            where = f"{elapsed:.1f}/{self.options.duration:g} s, {events} events"
            eta = max(0.0, self.options.duration - elapsed)
        counts = f"requests 2xx {ok}  4xx {client}  other {other}"
        if self.mode == "bar":
            width = 28
            filled = round(done * width)
            bar = "#" * filled + "-" * (width - filled)
            line = f"\r{done:4.0%} [{bar}] {where}  {rate:.1f} ev/s  {counts}  eta {eta:.0f}s"
            self.stream.write(line.ljust(100) + ("\n" if final else ""))
        elif not final:
            self.stream.write(
                f"{PROG}: {done:.0%} {where}, {requests} requests, {rate:.1f} ev/s, {counts}\n"
            )
        self.stream.flush()


# --------------------------------------------------------------------------- running


class Runner:
    """Workers take requests from the plan in order and send each at its scheduled time."""

    def __init__(
        self,
        options: Options,
        requests: Iterable[Request] | None = None,
        on_result: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.options = options
        self.requests = iter(plan(options) if requests is None else requests)
        self.on_result = on_result
        self.stats = Stats()
        self.take_lock = threading.Lock()
        self.stopping = threading.Event()
        self.interrupted = False
        self.start = 0.0
        self.deadline = math.inf

    def _next(self) -> Request | None:
        with self.take_lock:
            if self.stopping.is_set() or time.monotonic() >= self.deadline:
                return None
            return next(self.requests, None)

    def _worker(self) -> None:
        connection = Connection(self.options.target, self.options.timeout)
        try:
            while (request := self._next()) is not None:
                if request.offset is not None:
                    delay = self.start + request.offset - time.monotonic()
                    if delay > 0 and self.stopping.wait(delay):
                        return
                self._send(connection, request)
        finally:
            connection.close()

    def _send(self, connection: Connection, request: Request) -> None:
        sent_wall = time.time()
        sent = time.monotonic()
        status: int | None = None
        error = None
        cors_ok = True
        try:
            status, headers = connection.send(request)
        except Exception as exc:
            error = describe_error(exc)
        else:
            if self.options.origin:
                allowed = headers.get("access-control-allow-origin")
                cors_ok = allowed in ("*", self.options.origin)
        done = time.monotonic()
        outcome = Outcome(
            request,
            status,
            error,
            done - sent,
            sent - self.start,
            sent_wall,
            sent_wall + (done - sent),
            cors_ok,
        )
        self.stats.add(outcome)
        if self.on_result is not None:
            self.on_result(outcome)

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        started_wall = time.time()
        self.start = time.monotonic()
        if self.options.duration is not None:
            self.deadline = self.start + self.options.duration
        workers = [
            threading.Thread(target=self._worker, name=f"worker-{n}", daemon=True)
            for n in range(self.options.concurrency)
        ]
        # Ctrl-C may come while the workers are still being started (early ones
        # send while later ones start on a busy machine): starting them inside
        # the try makes that the same orderly stop as any other.
        try:
            if progress is not None:
                progress.start()
            for worker in workers:
                worker.start()
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)
        except KeyboardInterrupt:
            self.interrupted = True
            self.stopping.set()
            for worker in workers:
                if worker.ident is not None:  # started
                    worker.join()
        finally:
            if progress is not None:
                progress.stop()
        elapsed = time.monotonic() - self.start
        return summarize(self.options, self.stats, started_wall, elapsed, self.interrupted)


def _counts(counter: Counter[str]) -> dict[str, int]:
    return {key: counter[key] for key in sorted(counter)}


def _milliseconds(values: array, shares: Iterable[tuple[str, float]]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    figures = {name: round(percentile(ordered, share) * 1000, 3) for name, share in shares}
    figures["max"] = round(ordered[-1] * 1000, 3)
    return figures


def summarize(
    options: Options, stats: Stats, started_wall: float, elapsed: float, interrupted: bool
) -> dict[str, Any]:
    """The run's summary: what ``--json`` writes and the text summary shows."""
    problems = []
    if stats.good_rejected:
        problems.append(
            f"{sum(stats.good_rejected.values())} good requests were not accepted "
            f"({_codes(stats.good_rejected)})"
        )
    if stats.good_errors:
        problems.append(
            f"{sum(stats.good_errors.values())} good requests got no answer "
            f"({_codes(stats.good_errors)})"
        )
    bad_unexpected = stats.bad_requests - stats.bad_refused
    if bad_unexpected:
        wrong = Counter({k: v for k, v in stats.bad_statuses.items() if not k.startswith("4")})
        wrong.update(stats.bad_errors)
        kinds = sorted(
            kind
            for kind, labels in stats.bad_by_kind.items()
            if any(not label.startswith("4") for label in labels)
        )
        problems.append(
            f"{bad_unexpected} deliberately bad requests were not refused with a 4xx "
            f"({_codes(wrong)}; kinds: {', '.join(kinds)})"
        )
    if stats.cors_missing:
        problems.append(
            f"{stats.cors_missing} answers did not allow the origin {options.origin} (CORS)"
        )
    if stats.requests == 0:
        problems.append("no request was sent")
    if interrupted:
        problems.append("interrupted before the end of the run")
    hours = (
        hours_between(stats.first_accepted_send, stats.last_accepted_done)
        if stats.first_accepted_send is not None and stats.last_accepted_done is not None
        else []
    )
    latency = _milliseconds(stats.latencies, (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)))
    if latency is not None:
        latency["mean"] = round(sum(stats.latencies) / len(stats.latencies) * 1000, 3)
    lag = _milliseconds(stats.lags, (("p50", 0.5), ("p99", 0.99)))
    notes = []
    if lag is not None and lag["p50"] > LAG_NOTE_MS:
        notes.append(
            f"the endpoint answered more slowly than --rate {options.rate:g} asked (half the "
            f"requests left over {lag['p50'] / 1000:.1f} s late): each worker waits for its "
            f"answer, so raise --concurrency (now {options.concurrency}) or lower --rate"
        )
    return {
        "ok": not problems,
        "problems": problems,
        "notes": notes,
        "interrupted": interrupted,
        "url": options.url,
        "seed": options.seed,
        "count": options.count,
        "duration_s": options.duration,
        "rate": options.rate,
        "concurrency": options.concurrency,
        "batch": options.batch,
        "bad_ratio": options.bad_ratio,
        "started_utc": utc(started_wall),
        "finished_utc": utc(started_wall + elapsed),
        "elapsed_s": round(elapsed, 3),
        "first_send_utc": None if stats.first_send is None else utc(stats.first_send),
        "last_send_utc": None if stats.last_send is None else utc(stats.last_send),
        "hours_utc": hours,
        "etl_from": hours[0] if hours else None,
        "etl_to": hours[-1] if hours else None,
        "requests_sent": stats.requests,
        "events_sent": stats.events_sent,
        "events_accepted": stats.events_accepted,
        "good": {
            "requests": stats.good_requests,
            "accepted": stats.good_accepted,
            "events": stats.events_sent,
            "events_accepted": stats.events_accepted,
            "rejected": _counts(stats.good_rejected),
            "errors": _counts(stats.good_errors),
        },
        "bad": {
            "requests": stats.bad_requests,
            "refused": stats.bad_refused,
            "unexpected": bad_unexpected,
            "statuses": _counts(stats.bad_statuses),
            "errors": _counts(stats.bad_errors),
            "by_kind": {
                kind: _counts(stats.bad_by_kind[kind]) for kind in sorted(stats.bad_by_kind)
            },
        },
        "status_codes": _counts(stats.statuses),
        "errors": _counts(stats.errors),
        "cors_missing": stats.cors_missing,
        "achieved_rate": {
            "events_per_s": round(stats.events_sent / elapsed, 2) if elapsed > 0 else None,
            "requests_per_s": round(stats.requests / elapsed, 2) if elapsed > 0 else None,
        },
        "latency_ms": latency,
        "schedule_lag_ms": lag,
    }


def _codes(counter: Counter[str]) -> str:
    return ", ".join(f"{key}: {counter[key]}" for key in sorted(counter))


def format_summary(summary: dict[str, Any]) -> str:
    good, bad = summary["good"], summary["bad"]
    rate = summary["achieved_rate"]
    paced = f"{summary['rate']:g} events/s" if summary["rate"] else "unpaced"
    lines = [
        f"{PROG}: {summary['url']}  seed {summary['seed']}  {paced}  "
        f"concurrency {summary['concurrency']}  batch {summary['batch']}",
        f"  sent         {summary['requests_sent']} requests in {summary['elapsed_s']:.1f} s "
        f"({rate['requests_per_s']} requests/s, {rate['events_per_s']} events/s)",
        f"  accepted     {summary['events_accepted']} of {summary['events_sent']} events "
        f"({good['accepted']} of {good['requests']} good requests answered 2xx)",
    ]
    if good["rejected"] or good["errors"]:
        lines.append(
            f"  not accepted {_codes(Counter(good['rejected']))} {_codes(Counter(good['errors']))}"
        )
    if bad["requests"]:
        lines.append(
            f"  bad on purpose {bad['requests']}: {bad['refused']} refused with 4xx "
            f"({_codes(Counter(bad['statuses']))})"
            + (f", {bad['unexpected']} not refused" if bad["unexpected"] else "")
        )
    lines.append(f"  status codes {_codes(Counter(summary['status_codes'])) or 'none'}")
    lines.append(f"  errors       {_codes(Counter(summary['errors'])) or 'none'}")
    latency = summary["latency_ms"]
    if latency:
        lines.append(
            f"  latency ms   p50 {latency['p50']}  p95 {latency['p95']}  p99 {latency['p99']}  "
            f"max {latency['max']}"
        )
    lag = summary["schedule_lag_ms"]
    if lag:
        lines.append(f"  behind schedule ms  p50 {lag['p50']}  p99 {lag['p99']}  max {lag['max']}")
    if summary["hours_utc"]:
        lines.append(f"  UTC hours    {summary['etl_from']} .. {summary['etl_to']}")
    lines.extend(f"NOTE: {note}" for note in summary["notes"])
    if summary["ok"]:
        lines.append(
            "OK: every good request was accepted"
            + (" and every bad one refused with 4xx" if bad["requests"] else "")
        )
    else:
        lines.extend(f"FAILED: {problem}" for problem in summary["problems"])
    return "\n".join(lines)


def post_events(url: str, payloads: Iterable[dict[str, Any]], timeout: float = 10.0) -> int:
    """POST each payload once as its own request (unpaced, one connection); return the count.

    Raises ``ValueError`` for a bad URL and ``RuntimeError`` when any was not accepted.
    """
    try:
        target = parse_url(url)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    headers = (("Accept", JSON_TYPE), ("Content-Type", JSON_TYPE))
    requests = [
        Request(
            index, "event", "POST", headers, _json(payload), (str(payload.get("eventId")),), 1, None
        )
        for index, payload in enumerate(payloads)
    ]
    if not requests:
        return 0
    options = Options(url=target.url, count=len(requests), concurrency=1, timeout=timeout)
    summary = Runner(options, requests).run()
    if not summary["ok"]:
        raise RuntimeError(f"{url}: " + "; ".join(summary["problems"]))
    return summary["events_accepted"]


# --------------------------------------------------------------------------- command line


def _number(kind: type, name: str) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
            ) from None

    return convert


# flag, type, default, help: the numbers a run is tuned with
NUMERIC_OPTIONS = (
    (
        "--rate",
        float,
        0.0,
        "events per second on an absolute schedule; 0 = as fast as answered (0)",
    ),
    ("--seed", int, 7, "random seed (7)"),
    ("--concurrency", int, 4, "worker threads, one keep-alive connection each (4)"),
    ("--bad-ratio", float, 0.0, "share of requests that are deliberately bad, 0 <= R < 1 (0)"),
    ("--batch", int, 1, "events per good request; above 1 they go as a JSON array (1)"),
    ("--timeout", float, 10.0, "seconds to wait for a connection or an answer (10)"),
    (
        "--max-body-bytes",
        int,
        DEFAULT_MAX_BODY_BYTES,
        "the endpoint's MAX_BODY_BYTES: oversized bad requests exceed it (262144)",
    ),
    (
        "--max-batch-events",
        int,
        DEFAULT_MAX_BATCH_EVENTS,
        "the endpoint's MAX_BATCH_EVENTS: --batch may not exceed it (100)",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        epilog="Bad request kinds: " + ", ".join(BAD_KINDS),
    )
    parser.add_argument(
        "--url", required=True, help="the ingest URL, e.g. http://127.0.0.1:8080/clickstream"
    )
    stop = parser.add_argument_group("how much (exactly one)")
    stop.add_argument("--count", type=_number(int, "--count"), help="good events to send")
    stop.add_argument("--duration", type=_number(float, "--duration"), help="seconds to send for")
    for flag, kind, default, text in NUMERIC_OPTIONS:
        parser.add_argument(flag, type=_number(kind, flag), default=default, help=text)
    parser.add_argument("--origin", help="send this Origin header and check the CORS answer")
    parser.add_argument("--json", metavar="FILE", help="write the summary as JSON ('-': stdout)")
    parser.add_argument(
        "--accepted-ids",
        metavar="FILE",
        help="write the eventId of every accepted event to FILE, one per line",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "none"),
        default="auto",
        help="stderr progress: a bar on a terminal, a line every 5 s otherwise (auto)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # every Options field has the command-line option of the same name
        options = Options(**{f.name: getattr(args, f.name) for f in fields(Options) if f.init})
    except UsageError as exc:
        parser.error(str(exc))
    for flag, path in (("--json", args.json), ("--accepted-ids", args.accepted_ids)):
        if path and path != "-" and not Path(path).resolve().parent.is_dir():
            parser.error(f"{flag}: the folder {Path(path).resolve().parent} does not exist")
    if args.accepted_ids == "-":
        parser.error("--accepted-ids needs a file name (stdout carries the summary)")
    return options, args


class AcceptedIds:
    """Streams the eventIds of accepted good requests to a file as the answers come."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, outcome: Outcome) -> None:
        status = outcome.status
        if status is not None and 200 <= status < 300 and not outcome.request.bad:
            with self.lock:
                self.stream.write("".join(f"{i}\n" for i in outcome.request.event_ids))


def main(argv: list[str] | None = None) -> int:
    options, args = parse_args(argv)
    with contextlib.ExitStack() as stack:
        on_result = None
        if args.accepted_ids:
            try:
                ids = stack.enter_context(open(args.accepted_ids, "w", encoding="utf-8"))
            except OSError as exc:
                print(f"{PROG}: cannot write {args.accepted_ids}: {exc}", file=sys.stderr)
                return 2
            on_result = AcceptedIds(ids)
        runner = Runner(options, on_result=on_result)
        try:
            summary = runner.run(Progress(runner.stats, options, sys.stderr, args.progress))
        except KeyboardInterrupt:
            print(f"\n{PROG}: interrupted twice: requests in flight abandoned", file=sys.stderr)
            return 130
    text = format_summary(summary)
    print(text, file=sys.stderr if args.json == "-" else sys.stdout, flush=True)
    if args.json == "-":
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        try:
            Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"{PROG}: cannot write the summary to {args.json}: {exc}", file=sys.stderr)
            return 1
    if runner.interrupted:
        return 130
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
