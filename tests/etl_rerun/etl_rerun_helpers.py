"""Helpers of the ETL schedule role and rerun playbook tests (conftest is not importable).

A runner executes real playbooks from the project root (its ansible.cfg, roles
and inventories) with the JSON callback, so each task's result can be asserted.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aws_client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None

    @property
    def tasks(self) -> list[dict]:
        """Each task run: {"name": <name without "role : ">, "result": <localhost's result>}."""
        assert self.report is not None, self.output
        return [
            {
                "name": t["task"]["name"].split(" : ", 1)[-1],
                "result": t["hosts"].get("localhost", {}),
            }
            for play in self.report["plays"]
            for t in play["tasks"]
        ]

    @property
    def stats(self) -> dict:
        assert self.report is not None, self.output
        return self.report["stats"]["localhost"]

    @property
    def output(self) -> str:
        return self.stdout[-6000:] + self.stderr[-3000:]

    def failure_messages(self) -> list[str]:
        return [t["result"].get("msg", "") for t in self.tasks if t["result"].get("failed")]

    def messages(self, task_name: str) -> list[Any]:
        """The ``msg`` of every result of the named debug task (one per loop item)."""
        found = []
        for task in self.tasks:
            if task["name"] != task_name:
                continue
            result = task["result"]
            for item in result.get("results", [result]):
                if "msg" in item and not item.get("skipped"):
                    found.append(item["msg"])
        return found


def run_playbook(
    playbook: Path | str,
    *args: str,
    extra_vars: dict | None = None,
    env: dict[str, str] | None = None,
    json_output: bool = True,
) -> PlaybookRun:
    """ansible-playbook from the project root; extra vars passed as one JSON document."""
    command = [str(ANSIBLE_PLAYBOOK), str(playbook), *args]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    environment = {
        **os.environ,
        "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        **(env or {}),
    }
    if json_output:
        environment["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        environment["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.json"
    proc = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = None
    if json_output and proc.stdout.lstrip().startswith("{"):
        report = json.loads(proc.stdout)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, report)


def load_file(name: str, path: Path) -> Any:
    """Import a file under a unique module name (role plugins are not packages)."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ROLE = PROJECT_ROOT / "roles" / "etl_rerun"
RERUN_PLAYBOOK = PROJECT_ROOT / "playbooks" / "etl_rerun.yml"


def create_function_with_alias(endpoint: str, name: str, alias: str = "live") -> str:
    """A function with a published version and an alias, as lambda_function leaves it;
    returns the alias ARN."""
    import io
    import zipfile

    role = aws_client("iam", endpoint).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    client = aws_client("lambda", endpoint)
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Publish=True,
    )
    return client.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")["AliasArn"]
