"""The README's set-up on a fresh Debian 12 machine, in a container, as a new user runs it.

The developer's machine already has every package, so a set-up step that fails
on a new machine passes there unseen.  This test runs the project's set-up
inside a fresh container made from the project's Debian 12 base image, which
has none of podman, PostgreSQL, R or Chromium:

1. ``apt-get install git make`` (what the README asks for first), then
   ``make setup-host``: the Debian packages of ``scripts/debian-packages.txt``
   and the virtualenv of ``requirements-dev.txt``;
2. every tool the set-up promises runs;
3. ``make setup-host`` again installs nothing;
4. with one package no apt source has (``EXTRA_DEBIAN_PACKAGES``) the set-up
   fails, and its message names that package.

The base image itself (``make image``: debootstrap, then ``podman import``) is
left out: it needs podman inside the container, and nested containers do not
run on this kernel's cgroup v1 layout.  ``make setup`` builds it on the control
machine before this test runs, so that step is proven every time too.

What the container does not emulate is the network: apt reaches the Debian
mirror as the machine does, and pip gets the machine's CA bundle and its pip
settings (``PIP_*`` variables and ``pip config list``), the same as a new
machine on this network would have.  Downloaded packages go to the apt cache
shared by every container the tests start (``CLICKSTREAM_APT_CACHE``), so
only the first run on a machine downloads them.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from repo_files import project_files

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/clickstream-debian12:latest"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOGS = REPO / ".state" / "setup-test"
MISSING_PACKAGE = "clickstream-no-such-package"
PROMISED_TOOLS = {
    "podman": ["podman", "--version"],
    "psql": ["psql", "--version"],
    "R": ["R", "--version"],
    "chromium": ["chromium", "--version"],
    "ansible-playbook": [".venv/bin/ansible-playbook", "--version"],
}

pytestmark = pytest.mark.integration


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def pip_settings() -> tuple[dict[str, str], set[Path]]:
    """The machine's pip settings as ``PIP_*`` variables, and the local paths they name."""
    env = {key: value for key, value in os.environ.items() if key.startswith("PIP_")}
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    for line in listed.splitlines():
        key, _, raw = line.partition("=")
        if not raw:
            continue
        name = key.rsplit(".", 1)[-1]  # global.cert, :env:.cert -> cert
        env.setdefault("PIP_" + name.upper().replace("-", "_"), ast.literal_eval(raw))
    paths = {CA_BUNDLE}
    for value in env.values():
        for word in value.split():
            path = Path(word.removeprefix("file://"))
            if path.is_absolute() and path.is_file():
                paths.add(path)
            elif path.is_absolute() and path.is_dir():
                # a local index's pages point at files beside them: /opt/pypi/simple -> /opt/pypi
                paths.add(Path(*path.parts[:3]))
    return env, paths


def apt_cache() -> Path:
    """The apt package cache every container of the tests shares (the Makefile names it)."""
    cache = Path(os.environ.get("CLICKSTREAM_APT_CACHE", "/var/cache/clickstream/apt"))
    (cache / "partial").mkdir(parents=True, exist_ok=True)
    return cache


class FreshMachine:
    """A container of the base image with a copy of the project in /src; commands logged."""

    def __init__(self) -> None:
        self.name = f"clickstream-fresh-{uuid.uuid4().hex[:8]}"
        self.pip_env, mounts = pip_settings()
        volumes = [f"{path}:{path}:ro" for path in sorted(mounts)]
        volumes.append(f"{apt_cache()}:/var/cache/apt/archives")
        LOGS.mkdir(parents=True, exist_ok=True)
        podman(
            "run", "--detach", "--name", self.name, "--label", "project=clickstream",
            *(arg for volume in volumes for arg in ("--volume", volume)),
            IMAGE, "sleep", "infinity",
        )  # fmt: skip
        archive = LOGS / "project.tar"
        with tarfile.open(archive, "w") as tar:
            for name in project_files():
                tar.add(REPO / name, arcname=f"src/{name}", recursive=False)
        podman("exec", self.name, "mkdir", "-p", "/src")
        podman("cp", str(archive), f"{self.name}:/project.tar")
        self.run("tar -xf /project.tar -C / && rm /project.tar", log="copy")

    def run(
        self, script: str, log: str, env: dict[str, str] | None = None, timeout: float = 1800
    ) -> subprocess.CompletedProcess:
        """Run a bash script in /src as root; keep its output in .state/setup-test/<log>.log."""
        env_args = [
            f"--env={key}={value}" for key, value in {**self.pip_env, **(env or {})}.items()
        ]
        started = time.monotonic()
        result = podman(
            "exec", "--workdir", "/src", *env_args, self.name, "bash", "-c", script,
            check=False, timeout=timeout,
        )  # fmt: skip
        seconds = time.monotonic() - started
        (LOGS / f"{log}.log").write_text(
            f"$ {script}\n# exit {result.returncode} after {seconds:.0f} s\n"
            f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
        )
        print(f"fresh machine: {log}: exit {result.returncode} after {seconds:.0f} s")
        return result

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)


@pytest.fixture(scope="module")
def machine() -> Iterator[FreshMachine]:
    if shutil.which("podman") is None:
        pytest.fail("the fresh-machine test needs podman: run make setup")
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"the fresh-machine test needs the base image {IMAGE}: run make setup")
    fresh = FreshMachine()
    try:
        yield fresh
    finally:
        fresh.remove()


@pytest.fixture(scope="module")
def first_setup(machine: FreshMachine) -> subprocess.CompletedProcess:
    before = machine.run("command -v podman psql R chromium make git || true", log="before")
    assert before.stdout.strip() == "", f"the base image is not fresh: it has {before.stdout}"
    readme_first = machine.run(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git make",
        log="readme-first-step",
    )
    assert readme_first.returncode == 0, readme_first.stderr
    return machine.run("make setup-host", log="setup-first")


def test_setup_succeeds_on_a_fresh_machine(first_setup: subprocess.CompletedProcess) -> None:
    assert first_setup.returncode == 0, first_setup.stdout[-3000:] + first_setup.stderr[-3000:]
    assert "Debian packages: installed " in first_setup.stdout
    assert "Virtualenv: installing requirements-dev.txt" in first_setup.stdout


@pytest.mark.parametrize("tool", sorted(PROMISED_TOOLS))
def test_every_promised_tool_runs(
    machine: FreshMachine, first_setup: subprocess.CompletedProcess, tool: str
) -> None:
    assert first_setup.returncode == 0, (
        "the set-up failed: see test_setup_succeeds_on_a_fresh_machine"
    )
    result = machine.run(" ".join(PROMISED_TOOLS[tool]), log=f"version-{tool}", timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+\.\d+", result.stdout), result.stdout


def test_second_setup_installs_nothing(
    machine: FreshMachine, first_setup: subprocess.CompletedProcess
) -> None:
    assert first_setup.returncode == 0, (
        "the set-up failed: see test_setup_succeeds_on_a_fresh_machine"
    )
    dpkg_before = machine.run("dpkg-query -W -f='${Package} ${Version}\\n' | sort", log="dpkg-1")
    again = machine.run("make setup-host", log="setup-again", timeout=300)
    dpkg_after = machine.run("dpkg-query -W -f='${Package} ${Version}\\n' | sort", log="dpkg-2")
    assert again.returncode == 0, again.stderr
    assert "Debian packages: all " in again.stdout
    assert "installing" not in again.stdout.lower(), again.stdout
    assert dpkg_after.stdout == dpkg_before.stdout


def test_a_package_no_mirror_has_is_named(
    machine: FreshMachine, first_setup: subprocess.CompletedProcess
) -> None:
    result = machine.run(
        "make setup-host",
        log="setup-missing-package",
        env={"EXTRA_DEBIAN_PACKAGES": MISSING_PACKAGE},
        timeout=600,
    )
    assert result.returncode != 0
    assert "set-up failed (Debian packages)" in result.stderr, result.stderr
    assert f"not available from this machine's apt sources: {MISSING_PACKAGE}" in result.stderr


def test_setup_refuses_a_user_who_is_not_root(
    machine: FreshMachine, first_setup: subprocess.CompletedProcess
) -> None:
    result = machine.run(
        "useradd --create-home newcomer 2>/dev/null || true; "
        "runuser -u newcomer -- scripts/install-debian-packages.sh",
        log="setup-not-root",
        timeout=120,
    )
    assert result.returncode != 0
    assert "needs root: run it as root" in result.stderr, result.stderr
