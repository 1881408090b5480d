"""The lab's connection plugin, clickstream.lab.podman, against a real container.

One container of the project's base image is reached through two inventory
hosts: one enters it with nsenter (the default, as root), one with
``podman exec`` for every command (``ansible_podman_enter_with=podman``, what
the plugin falls back to). The same playbook runs on both, and both must see
the same container: its environment, hostname, PID 1 and working folder, a
file copied in and fetched back byte for byte, a failing command's exit code
and output, and a module fed on standard input (pipelining). A wrapper around
podman counts the calls: with nsenter, one per task; with podman exec, more.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import ansible_moto

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/clickstream-debian12:latest"
# podman reads the project's configuration (runc, ulimits), as under make
PODMAN_ENV = {"CONTAINERS_CONF": str(REPO / "molecule" / "containers.conf")}
HOSTS = ("by_nsenter", "by_podman")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    if shutil.which("podman") is None:
        pytest.fail("the connection test needs podman: run make setup")
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"the connection test needs the base image {IMAGE}: run make setup")
    name = f"clickstream-conntest-{uuid.uuid4().hex[:8]}"
    podman("run", "--detach", "--name", name, "--hostname", name, IMAGE, "sleep", "infinity")
    try:
        yield name
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *args],
        env={**os.environ, **PODMAN_ENV},
        capture_output=True,
        text=True,
        check=check,
    )


PAYLOAD = "line one\nsecond line, with 'quotes' and a tab\t\n" + "x" * 200_000
TASKS = [
    {
        "name": "copy a file in",
        "ansible.builtin.copy": {
            "content": PAYLOAD,
            "dest": "/tmp/conn test {{ inventory_hostname }}",
            "mode": "0640",
        },
    },
    {
        "name": "fetch it back",
        "ansible.builtin.fetch": {
            "src": "/tmp/conn test {{ inventory_hostname }}",
            "dest": "{{ fetched }}/",
        },
    },
    {
        "name": "see the container",
        "ansible.builtin.command": (
            "sh -c 'echo $PATH $HOME; hostname; cat /proc/1/comm; pwd; id -u'"
        ),
        "changed_when": False,
    },
    {
        "name": "fail",
        "ansible.builtin.command": "sh -c 'echo out; echo err >&2; exit 3'",
        "register": "failing",
        "failed_when": "failing.rc != 3",
        "changed_when": False,
    },
    {"name": "ping", "ansible.builtin.ping": {}},
]


@pytest.fixture(scope="module")
def run(
    container: str, tmp_path_factory
) -> tuple[ansible_moto.PlaybookRun, dict[str, list[str]], Path]:
    """The playbook on both hosts, each host's podman calls, and the fetch folder."""
    work = tmp_path_factory.mktemp("conn")
    hosts = {}
    for host in HOSTS:
        wrapper = work / f"podman-{host}"
        wrapper.write_text(f'#!/bin/sh\necho "$*" >> {work}/calls-{host}\nexec podman "$@"\n')
        wrapper.chmod(0o755)
        hosts[host] = {
            "ansible_host": container,
            "ansible_connection": "clickstream.lab.podman",
            "ansible_podman_enter_with": host.removeprefix("by_"),
            "ansible_podman_executable": str(wrapper),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
    inventory = work / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    fetched = work / "fetched"
    play = {
        "hosts": "all",
        "gather_facts": False,
        "vars": {"fetched": str(fetched)},
        "tasks": TASKS,
    }
    playbook = ansible_moto.write_playbook(work / "play.yml", play)
    result = ansible_moto.run_playbook(playbook, "-i", str(inventory), env=PODMAN_ENV, timeout=300)
    assert result.returncode == 0, result.output
    calls = {host: (work / f"calls-{host}").read_text().splitlines() for host in HOSTS}
    return result, calls, fetched


def host_result(result: ansible_moto.PlaybookRun, task: str, host: str) -> dict:
    return next(
        t["hosts"][host]
        for play in result.report["plays"]
        for t in play["tasks"]
        if t["task"]["name"] == task
    )


def test_both_ways_see_the_same_container(run, container):
    result, _, _ = run
    seen = {host: host_result(result, "see the container", host)["stdout_lines"] for host in HOSTS}
    assert seen["by_nsenter"] == seen["by_podman"]
    path_home, hostname, pid1, cwd, uid = seen["by_nsenter"]
    assert path_home.endswith(" /root")
    assert "/usr/bin" in path_home
    assert (hostname, pid1, cwd, uid) == (container, "sleep", "/", "0")


def test_a_file_goes_in_and_comes_back_byte_for_byte(run, container):
    result, _, fetched = run
    for host in HOSTS:
        assert host_result(result, "copy a file in", host)["changed"] is True
        path = f"/tmp/conn test {host}"
        back = fetched / host / path.lstrip("/")
        assert back.read_text() == PAYLOAD, host
        mode = podman("exec", container, "stat", "-c", "%a %U", path).stdout.split()
        assert mode == ["640", "root"], host


def test_a_failing_command_keeps_its_exit_code_and_output(run):
    result, _, _ = run
    for host in HOSTS:
        failing = host_result(result, "fail", host)
        assert (failing["rc"], failing["stdout"], failing["stderr"]) == (3, "out", "err"), host
        assert host_result(result, "ping", host)["ping"] == "pong", host


def test_nsenter_asks_podman_once_per_task(run):
    _, calls, _ = run
    assert len(calls["by_nsenter"]) == len(TASKS), calls["by_nsenter"]
    assert all(call.startswith("container inspect") for call in calls["by_nsenter"])
    # podman exec: a copy alone takes five or more calls
    assert len(calls["by_podman"]) >= len(TASKS) + 5, calls["by_podman"]
