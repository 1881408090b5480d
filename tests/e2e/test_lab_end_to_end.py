"""The whole platform on the local lab, from nothing to nothing, as a new user runs it.

One lab, built once for the module, in the order a user goes:

1. ``playbooks/lab_up.yml``, then ``site.yml``: every layer on an empty lab;
2. ``playbooks/lab_history.yml``: a month of generated history written as
   hourly batch objects and loaded by the ETL rerun;
3. ``playbooks/lab_traffic.yml``: a burst through the ingest endpoint (the
   inventory's sink, firehose: moto's delivery stream writes the objects), the
   ETL rerun over its hours, and the check that every accepted event is one row
   of the warehouse; then a shorter burst with the endpoint on the s3 sink;
4. the dashboard at http://127.0.0.1:3838/clickstream/ in headless Chromium:
   every panel of every tab shows data (screenshots in .state/e2e/screenshots/,
   the README's pictures), and the overview counts the warehouse's events;
5. ``site.yml`` again: changed=0 on every host, and how long it took against
   the first run; the history and the burst (``make local``'s other steps)
   change nothing either;
6. ``site.yml --tags api,dw``: two layers alone, changed=0 (the API finds the
   AWS layers it reads in what is deployed);
7. ``site.yml --check`` on the built site: changed=0, nothing failed;
8. ``playbooks/teardown.yml`` leaves nothing in the lab's AWS, and
   ``playbooks/lab_down.yml`` nothing on the machine.

The steps build on each other: a step whose prerequisite failed is skipped.
It needs the lab's names and ports for itself and refuses to start while a
lab is up (``make lab-down`` first).  Every playbook's output is kept in
``.state/e2e/<step>.log``.  Run with ``make test-e2e`` (part of ``make test``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import browser
import dashboard_page as page

REPO = Path(__file__).resolve().parents[2]

LOGS = REPO / ".state" / "e2e"
TRAFFIC_SUMMARY = REPO / ".state" / "traffic" / "summary.json"
PLAN = REPO / ".state" / "history" / "plan.json"
SCREENSHOTS = LOGS / "screenshots"
DASHBOARD_URL = "http://127.0.0.1:3838/clickstream/"
LAB_CONTAINERS = ("clickstream-oltp", "clickstream-dw")
LAB_NETWORK = "clickstream-lab"
# moto, the DW's and the OLTP host's PostgreSQL, Shiny, the ingest endpoint
LAB_PORTS = (5000, 15432, 25432, 3838, 8080)
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


class Run:
    """One ansible-playbook run: its exit status, duration, recap and log."""

    def __init__(self, step: str, args: list[str]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{step}.log"
        env = {
            **os.environ,
            "ANSIBLE_FORCE_COLOR": "0",
            "CONTAINERS_CONF": str(REPO / "molecule" / "containers.conf"),
            "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        }
        started = time.monotonic()
        with self.log.open("w") as out:
            self.returncode = subprocess.call(
                ["ansible-playbook", *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.seconds = time.monotonic() - started
        self.output = self.log.read_text()
        self.recap = {
            m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP.finditer(self.output)
        }
        print(f"\n{step}: exit {self.returncode} in {self.seconds:.0f} s, recap {self.recap}")

    def tail(self, lines: int = 60) -> str:
        return f"{self.log}, last lines:\n" + "\n".join(self.output.splitlines()[-lines:])

    def require_success(self) -> None:
        assert self.returncode == 0, f"ansible-playbook failed: {self.tail()}"
        assert self.recap, f"no PLAY RECAP: {self.tail()}"
        broken = {host: h for host, h in self.recap.items() if h["failed"] or h["unreachable"]}
        assert not broken, self.tail()

    def changed_tasks(self) -> list[str]:
        """The TASK headers followed by a "changed:" line, for a helpful failure message."""
        changed, task = [], None
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                task = line.rstrip("* ")
            elif line.startswith("changed:") and task:
                changed.append(f"{task} -> {line}")
        return changed


class Lab:
    """What the steps learn and need from the steps before them."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.failed: set[str] = set()

    def needs(self, *steps: str) -> None:
        """Skip the calling test when a step it builds on failed or did not run."""
        missing = [step for step in steps if step not in self.runs or step in self.failed]
        if missing:
            pytest.skip(f"needs the step(s) {', '.join(missing)}")

    def play(self, step: str, *args: str) -> Run:
        run = Run(step, list(args))
        self.runs[step] = run
        if run.returncode != 0:
            self.failed.add(step)
        return run


def lab_is_up() -> list[str]:
    """What of a lab is running on this machine: containers, network, busy ports."""
    found = []
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "molecule" / "containers.conf")}
    for name in LAB_CONTAINERS:
        if subprocess.call(["podman", "container", "exists", name], env=env) == 0:
            found.append(f"container {name}")
    if subprocess.call(["podman", "network", "exists", LAB_NETWORK], env=env) == 0:
        found.append(f"network {LAB_NETWORK}")
    for port in LAB_PORTS:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                found.append(f"something listening on 127.0.0.1:{port}")
    return found


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    already = lab_is_up()
    if already:
        pytest.fail(
            "the end-to-end test builds a lab from nothing, but one is up ("
            + ", ".join(already)
            + "): run make lab-down first"
        )
    lab = Lab()
    try:
        yield lab
    finally:
        if "lab_down" not in lab.runs:
            Run("cleanup_lab_down", ["playbooks/lab_down.yml"])


def test_site_builds_everything_on_an_empty_lab(lab: Lab):
    lab.play("lab_up", "playbooks/lab_up.yml").require_success()
    first = lab.play("site_first", "site.yml")
    first.require_success()
    assert {"localhost", *LAB_CONTAINERS} <= set(first.recap), first.recap


def test_a_month_of_history_loads_through_the_etl(lab: Lab):
    lab.needs("site_first")
    PLAN.unlink(missing_ok=True)
    history = lab.play("history", "playbooks/lab_history.yml")
    history.require_success()
    plan = json.loads(PLAN.read_text())
    print(f"history plan: {json.dumps(plan, sort_keys=True)}")
    assert plan["days"] == 30
    assert plan["objects"] >= 24 * 28  # an object per hour with events: nights are quiet
    assert f"{plan['events'] - plan['bad_events']} in the warehouse" in history.output


def test_a_burst_of_traffic_lands_once_in_the_warehouse(lab: Lab):
    lab.needs("site_first")
    TRAFFIC_SUMMARY.unlink(missing_ok=True)
    lab.play(
        "traffic", "playbooks/lab_traffic.yml", "-e", "lab_traffic_once=true"
    ).require_success()
    summary = burst_summary("traffic summary")
    assert summary["bad_requests_refused"] == summary["bad_requests_sent"] > 0


def burst_summary(title: str) -> dict[str, Any]:
    """The last burst's figures (printed): every accepted event is one warehouse
    row, every object written was loaded, nothing rejected."""
    summary = json.loads(TRAFFIC_SUMMARY.read_text())
    print(f"{title}: {json.dumps(summary, sort_keys=True)}")
    assert summary["events_accepted"] > 0
    assert summary["rows_for_accepted_events"] == summary["events_accepted"]
    assert summary["objects_loaded"] == summary["objects_written"]
    assert summary["etl_rejects"] == 0
    return summary


def test_a_burst_through_the_s3_sink_lands_once_too(lab: Lab):
    """The inventory's sink is firehose (the burst above went through moto's
    Firehose); the lab's endpoint restarted with ``-e ingest_sink=s3`` writes one
    object per request itself, and a shorter burst lands once as well. The
    endpoint is then restarted with the inventory's sink, so that the second
    site.yml below finds nothing to change."""
    lab.needs("traffic")
    lab.play(
        "endpoint_s3", "site.yml", "--tags", "ingest_endpoint", "-e", "ingest_sink=s3"
    ).require_success()
    try:
        lab.play(
            "traffic_s3", "playbooks/lab_traffic.yml", "-e", "lab_traffic_count=300"
        ).require_success()
    finally:
        lab.play("endpoint_firehose", "site.yml", "--tags", "ingest_endpoint").require_success()
    burst_summary("traffic summary (s3 sink)")


def warehouse() -> Any:
    """A connection to the lab's DW as the ETL's login (the one the lab's DW takes from
    this machine, as the ETL rerun does); the test only reads."""
    import psycopg2

    password = (REPO / ".state" / "secrets" / "dw_etl_writer").read_text().strip()
    return psycopg2.connect(
        host="127.0.0.1",
        port=25432,
        dbname="clickstream_dw",
        user="etl_writer",
        password=password,
        sslmode="require",
        options="-c TimeZone=UTC",
    )


def test_every_tab_of_the_dashboard_shows_data(lab: Lab):
    """Every panel of every tab renders, with no error and no "no data" message; the
    overview counts what the warehouse holds. Screenshots: .state/e2e/screenshots/."""
    lab.needs("history", "traffic")
    if missing := browser.missing_programs():
        pytest.fail("the dashboard check needs " + ", ".join(missing) + ": run make setup")
    # the dashboards leave bots out by default (#17)
    with warehouse() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE NOT is_bot), count(*) FROM clickstream_events")
        warehouse_events, with_bots = cur.fetchone()
    assert with_bots == json.loads(TRAFFIC_SUMMARY.read_text())["warehouse_events"]
    assert 0 < warehouse_events < with_bots, "the lab's traffic has people and bots"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    empty: dict[str, list[str]] = {}
    with browser.chromium(window_size="1400,1800") as driver:
        driver.get(DASHBOARD_URL)
        page.wait_idle(driver)
        for tab in page.TABS:
            page.open_tab(driver, tab)
            driver.save_screenshot(str(SCREENSHOTS / f"{tab}.png"))
            assert page.output_errors(driver) == [], tab
            shown = {**page.rendered(driver), "messages": page.validation_messages(driver)}
            if shown["messages"] or not shown["plots"] or not shown["table_rows"]:
                empty[tab] = shown
        page.open_tab(driver, "overview")
        first_day = date.fromisoformat(json.loads(PLAN.read_text())["start"])
        page.set_dates(driver, first_day, datetime.now(UTC).date())
        events_shown = page.kpi(driver, "kpi-events")
    assert empty == {}, f"tabs with a panel showing no data: {empty} (see {SCREENSHOTS})"
    assert events_shown == warehouse_events, (
        f"the overview shows {events_shown} events, the warehouse holds {warehouse_events}"
        " that are not bots"
    )


RECLASSIFIED = re.compile(
    r"Total, .*reclassify(?P<dry>, dry run)?: (?P<read>\d+) row\(s\) in \d+ hour\(s\), "
    r"(?P<changed>\d+) (would change|changed) class"
)
# Everything of an event but its classification, and its classification, as two sums.
EVENT_SUMS = """
SELECT count(*),
       sum(hashtext(row(e.event_id, e.event_timestamp, e.event_name, e.user_id, e.client_id,
                        e.session_id, e.page_url, e.referrer, e.payload_extra,
                        e.ingest_metadata, e.etl_run_id)::text)::numeric),
       sum(hashtext(row(e.device_type, e.browser_family, e.browser_major, e.os_family,
                        e.is_bot, e.bot_reason, e.traffic_channel, e.utm_source,
                        e.referrer_host)::text)::numeric)
           FILTER (WHERE position(%(rule)s IN lower(e.ingest_metadata ->> 'userAgent')) = 0)
FROM clickstream_events e
WHERE e.event_timestamp >= %(first)s
"""


def test_a_new_bot_rule_reclassifies_history(lab: Lab):
    """A site rule (etl_extra_bot_agents) added after the load: the dry run counts the
    rows that would change, the run changes exactly those rows (nothing else of any row)
    and the rollups the dashboards read, a second run changes nothing; removing the
    rule puts every row back."""
    lab.needs("history", "traffic")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=2)
    with warehouse() as conn, conn.cursor() as cur:
        # the rule: the end of the least common browser user agent of those days, after
        # its last parenthesis (a rule holds no comma: ETL_EXTRA_BOT_AGENTS separates
        # rules with commas, and "(KHTML, like Gecko)" has one)
        cur.execute(
            "SELECT lower(ingest_metadata ->> 'userAgent') FROM clickstream_events"
            " WHERE event_timestamp >= %s AND NOT is_bot AND device_type <> 'other'"
            " GROUP BY 1 ORDER BY count(*), 1 LIMIT 1",
            (first,),
        )
        rule = cur.fetchone()[0].rpartition(")")[2].strip()
        assert len(rule) >= 3, rule
        assert "," not in rule, rule
        cur.execute(
            "SELECT count(*) FROM clickstream_events WHERE event_timestamp >= %s"
            " AND NOT is_bot AND position(%s IN lower(ingest_metadata ->> 'userAgent')) > 0",
            (first, rule),
        )
        expected = cur.fetchone()[0]
        cur.execute(EVENT_SUMS, {"rule": rule, "first": first})
        before = cur.fetchone()
        cur.execute(
            "SELECT sum(sessions) FILTER (WHERE NOT is_bot), sum(sessions) FILTER (WHERE is_bot)"
            " FROM hourly_sessions WHERE session_hour >= %s",
            (first,),
        )
        sessions_before = cur.fetchone()
    print(f"rule: {rule!r}, {expected} events of {first} .. {today}")

    def reclassify(step: str, *extra: str) -> re.Match:
        run = lab.play(
            step,
            "playbooks/etl_reclassify.yml",
            "-e",
            f"etl_from={first}",
            "-e",
            f"etl_to={today}",
            *extra,
        )
        run.require_success()
        found = RECLASSIFIED.search(run.output)
        assert found, run.tail()
        print(f"{step}: {found.group(0)} ({run.seconds:.0f} s)")
        return found

    with_rule = ("-e", json.dumps({"etl_extra_bot_agents": [rule]}))
    dry = reclassify("reclassify_dry", *with_rule, "-e", "etl_dry_run=true")
    assert (dry["dry"], int(dry["changed"])) == (", dry run", expected)
    done = reclassify("reclassify", *with_rule)
    assert int(done["changed"]) == expected
    with warehouse() as conn, conn.cursor() as cur:
        cur.execute(EVENT_SUMS, {"rule": rule, "first": first})
        after = cur.fetchone()
        cur.execute(
            "SELECT count(*) FROM clickstream_events WHERE event_timestamp >= %s"
            " AND position(%s IN lower(ingest_metadata ->> 'userAgent')) > 0"
            " AND NOT (is_bot AND device_type = 'bot' AND bot_reason = 'user_agent')",
            (first, rule),
        )
        assert cur.fetchone()[0] == 0, "a row of the rule's user agent is not a bot"
        cur.execute(
            "SELECT sum(sessions) FILTER (WHERE NOT is_bot), sum(sessions) FILTER (WHERE is_bot)"
            " FROM hourly_sessions WHERE session_hour >= %s",
            (first,),
        )
        sessions_after = cur.fetchone()
    assert after == before, "a column other than the classification, or another row, changed"
    assert sessions_after[0] < sessions_before[0], (sessions_before, sessions_after)
    assert sum(sessions_after) == sum(sessions_before)
    again = reclassify("reclassify_again", *with_rule)
    assert int(again["changed"]) == 0
    # the inventory's rules again: the same rows go back, and the rollups with them
    restored = reclassify("reclassify_restore")
    assert int(restored["changed"]) == expected
    with warehouse() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT sum(sessions) FILTER (WHERE NOT is_bot), sum(sessions) FILTER (WHERE is_bot)"
            " FROM hourly_sessions WHERE session_hour >= %s",
            (first,),
        )
        assert cur.fetchone() == sessions_before


def test_a_second_run_changes_nothing(lab: Lab):
    lab.needs("site_first", "history", "traffic")
    second = lab.play("site_second", "site.yml")
    second.require_success()
    first = lab.runs["site_first"]
    print(f"site.yml on the lab: first run {first.seconds:.0f} s, again {second.seconds:.0f} s")
    assert all(h["changed"] == 0 for h in second.recap.values()), "\n".join(second.changed_tasks())
    # make local's other two steps: the history is not loaded again, nor the burst sent
    history = lab.play("history_second", "playbooks/lab_history.yml")
    history.require_success()
    assert "already loaded, nothing to do" in history.output, history.tail()
    traffic = lab.play("traffic_second", "playbooks/lab_traffic.yml", "-e", "lab_traffic_once=true")
    traffic.require_success()
    for run in (history, traffic):
        assert all(h["changed"] == 0 for h in run.recap.values()), "\n".join(run.changed_tasks())


def test_layers_run_alone(lab: Lab):
    """The API layer finds every AWS layer it reads in what is deployed; a host layer needs none."""
    lab.needs("site_first")
    alone = lab.play("site_tags_api_dw", "site.yml", "--tags", "api,dw")
    alone.require_success()
    assert all(h["changed"] == 0 for h in alone.recap.values()), "\n".join(alone.changed_tasks())


def test_check_mode_works_on_the_whole_site(lab: Lab):
    lab.needs("site_first")
    check = lab.play("site_check", "site.yml", "--check")
    check.require_success()
    assert all(h["changed"] == 0 for h in check.recap.values()), "\n".join(check.changed_tasks())


def test_teardown_and_lab_down_leave_nothing(lab: Lab):
    lab.needs("lab_up")
    lab.play("teardown", "playbooks/teardown.yml").require_success()
    left = aws_leftovers()
    lab.play("lab_down", "playbooks/lab_down.yml").require_success()
    assert left == {}, f"teardown left these in the lab's AWS: {left}"
    assert lab_is_up() == []


def aws_leftovers() -> dict[str, list[str]]:
    """What of the project is still in the lab's moto server, by kind."""
    import boto3

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    kwargs = {
        "endpoint_url": "https://127.0.0.1:5000",
        "verify": str(REPO / ".state" / "secrets" / "moto.crt"),
    }

    def client(service: str) -> Any:
        return session.client(service, **kwargs)

    ec2 = client("ec2")
    project_vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["clickstream"]}])
    found = {
        "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        "functions": [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]],
        "http_apis": [a["Name"] for a in client("apigatewayv2").get_apis()["Items"]],
        "rules": [r["Name"] for r in client("events").list_rules()["Rules"]],
        "delivery_streams": client("firehose").list_delivery_streams()["DeliveryStreamNames"],
        "log_groups": [
            g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]
        ],
        "roles": [
            r["RoleName"]
            for r in client("iam").list_roles()["Roles"]
            if r["RoleName"].startswith("clickstream")
        ],
        "instances": [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ],
        "vpcs": [v["VpcId"] for v in project_vpcs["Vpcs"]],
    }
    return {kind: names for kind, names in found.items() if names}
