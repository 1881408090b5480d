#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the packaged ETL handler locally on one event (role etl_rerun, lab mode)."""

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402
from __future__ import annotations

DOCUMENTATION = r"""
---
module: etl_package_invoke
short_description: Run the packaged ETL Lambda handler locally on one event
version_added: 1.1.0
description:
  - Unpacks the ETL's deployment zip (the one C(lambda_package) builds) into a
    temporary folder and calls the function O(handler) names with the event
    and a null context, in a separate Python process with the unpacked folder
    first on its path (as a Lambda's task root is) and O(environment) as the
    Lambda's environment (the lab's moto endpoint, the DW container's address
    and credentials).
  - The handler's log lines (JSON, on stdout in Lambda) are kept apart from
    its result; the last O(log_lines) are returned.
  - A native extension built for another platform (the zip is built for the
    Lambda's, for example C(manylinux2014_aarch64) / CPython 3.12) cannot load
    here; such a package is left out of the unpacked copy so the interpreter's
    own installation of it is used, and RV(package_notes) says so.
  - The handler raising is a failure of the task, with its type and message, as
    a C(FunctionError) of a real invocation is.
  - Does nothing in check mode.
options:
  package:
    description:
      - The ETL's deployment zip; the module O(handler) names must be in it
        (C(handler.py) at its root for the default).
    type: path
    required: true
  handler:
    description:
      - The function to call, C(<module>.<function>) as a Lambda's C(Handler)
        setting names it; the module may be dotted (C(clickstream_etl.handler.handler)
        runs C(handler) of C(clickstream_etl/handler.py)).
    type: str
    default: handler.handler
  event:
    description:
      - >-
        The invocation event, for example C({"from": "2026-11-24T05", "to": "2026-11-24T10"}).
    type: dict
    required: true
  environment:
    description:
      - The handler's environment (C(RAW_BUCKET_NAME), C(DW_PG_*), C(AWS_*) ...), added to
        this process's environment without its C(AWS_*), C(DW_PG_*), C(ETL_*), C(PG*) and
        C(PYTHON*) variables.
    type: dict
    default: {}
  secret_environment:
    description:
      - More of the handler's environment whose values are secrets (C(DW_PG_PASSWORD)); they
        are masked in Ansible's output. Kept apart from O(environment) because Ansible masks
        every occurrence of a secret value, which would garble short values such as ports.
    type: dict
    default: {}
  python:
    description: Interpreter that runs the handler.
    type: path
    required: true
  timeout:
    description: Seconds the handler may run (a Lambda's limit is 900).
    type: int
    default: 900
  log_lines:
    description: How many of the handler's last log lines to return.
    type: int
    default: 20
author:
  - Clickstream platform team
"""

EXAMPLES = r"""
- name: Load two hours into the lab's DW with the built ETL package
  clickstream.aws.etl_package_invoke:
    package: "{{ playbook_dir }}/../build/lambda/etl.zip"
    event:
      from: "2026-11-24T05"
      to: "2026-11-24T06"
    environment:
      RAW_BUCKET_NAME: clickstream-raw-123456789012-us-east-1
      AWS_ENDPOINT_URL: https://127.0.0.1:5000
      DW_PG_HOST: 127.0.0.1
      DW_PG_PORT: 25432
    secret_environment:
      DW_PG_PASSWORD: "{{ lookup('ansible.builtin.file', '.state/secrets/etl_writer') }}"
    python: "{{ ansible_playbook_python }}"
  register: etl_run

- name: A package whose handler is a module of a package, as a dry run
  clickstream.aws.etl_package_invoke:
    package: /srv/build/etl.zip
    handler: clickstream_etl.handler.handler
    event: {from: "2026-11-24T05", to: "2026-11-24T10", dry_run: true}
    python: /usr/bin/python3.12
    timeout: 300
    log_lines: 50
"""

RETURN = r"""
summary:
  description: What the handler returned (the ETL's JSON summary).
  returned: success
  type: dict
duration_ms:
  description: Wall time of the handler's process, in milliseconds.
  returned: success
  type: int
package_notes:
  description: Packages of the zip replaced by the interpreter's own (built for another platform).
  returned: always
  type: list
  elements: str
log_tail:
  description: The handler's last log lines.
  returned: always
  type: list
  elements: str
stack_trace:
  description: The handler's traceback, when it raised.
  returned: failure
  type: list
  elements: str
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

from ansible.module_utils.basic import AnsibleModule

# Runs inside the unpacked package (cwd first on sys.path, as Lambda's task root is):
# the handler's stdout (its JSON logs) goes to stderr, the result to stdout.
# The handler, "module.function", is the process's first argument.
RUNNER = r"""
import contextlib, importlib, json, sys, traceback
event = json.load(sys.stdin)
module_name, function_name = sys.argv[1].rsplit(".", 1)
out = sys.stdout
try:
    with contextlib.redirect_stdout(sys.stderr):
        function = getattr(importlib.import_module(module_name), function_name)
        result = function(event, None)
    reply = {"ok": True, "result": result}
except Exception as exc:
    reply = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc),
             "stackTrace": traceback.format_exc().splitlines()}
out.write(json.dumps(reply, default=str) + "\n")
"""
DROPPED_ENV_PREFIXES = ("AWS_", "DW_PG_", "ETL_", "PG", "PYTHON")
DEFAULT_HANDLER = "handler.handler"
HANDLER_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


class InvokeError(Exception):
    """A failure reported as the task's message, with what is known so far (``result``)."""

    result: dict | None = None


def handler_files(handler: str) -> list[str]:
    """The files of the handler's module, one of which the package must hold."""
    if not HANDLER_PATTERN.match(handler):
        raise InvokeError(
            f"handler must name a function as module.function (for example {DEFAULT_HANDLER}), "
            f'got "{handler}"'
        )
    module_path = handler.rsplit(".", 1)[0].replace(".", "/")
    return [f"{module_path}.py", f"{module_path}.pyc", f"{module_path}/__init__.py"]


def unpack(package: str, dest: str, handler: str = DEFAULT_HANDLER) -> None:
    if not os.path.isfile(package):
        raise InvokeError(
            f"the ETL package {package} is missing: run site.yml (or the lambdas tag) first"
        )
    try:
        with zipfile.ZipFile(package) as archive:
            root = os.path.realpath(dest)
            for name in archive.namelist():
                target = os.path.realpath(os.path.join(dest, name))
                if os.path.commonpath([root, target]) != root:
                    raise InvokeError(f"{package}: entry {name!r} points outside the package")
            archive.extractall(dest)  # every entry checked above
    except zipfile.BadZipFile as exc:
        raise InvokeError(f"{package} is not a readable zip ({exc}): rebuild it") from None
    files = handler_files(handler)
    if not any(os.path.isfile(os.path.join(dest, name)) for name in files):
        raise InvokeError(f"{package} has no {files[0]} at its root: is it the ETL's package?")


def elf_machine(path: str) -> int | None:
    """The ELF header's e_machine (62 x86-64, 183 AArch64), or None for another file."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def interpreter_suffixes(python: str) -> list[str]:
    """The extension-module file suffixes the handler's interpreter loads."""
    probe = "import importlib.machinery as m, json; print(json.dumps(m.EXTENSION_SUFFIXES))"
    proc = subprocess.run(  # noqa: S603 - our own interpreter and code
        [python, "-c", probe], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InvokeError(f"{python} does not run: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def foreign_packages(root: str, suffixes: list[str], machine: int | None) -> dict[str, str]:
    """Top-level packages holding an extension module the interpreter cannot load.

    An extension is foreign when its ABI tag (``.cpython-312-aarch64-linux-gnu.so``) is
    not one the interpreter accepts, or when it is an ELF file for another machine
    (which also catches ``.abi3.so`` builds of another architecture).
    """
    tagged_suffixes = tuple(s for s in suffixes if s.count(".") > 1)
    foreign: dict[str, str] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not name.endswith((".so", ".pyd")):
                continue
            path = os.path.join(folder, name)
            tagged = name.count(".") > 1
            wrong_tag = tagged and not name.endswith(tagged_suffixes)
            found = elf_machine(path)
            wrong_machine = machine is not None and found is not None and found != machine
            if wrong_tag or wrong_machine:
                top = os.path.relpath(path, root).split(os.sep, 1)[0]
                foreign.setdefault(top, name)
    return foreign


def drop_foreign(root: str, python: str) -> list[str]:
    suffixes = interpreter_suffixes(python)
    machine = elf_machine(os.path.realpath(python))
    notes = []
    for top, example in sorted(foreign_packages(root, suffixes, machine).items()):
        path = os.path.join(root, top)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
        notes.append(
            f"{top}: the package's build ({example}) does not load on this Python "
            f"({suffixes[0].strip('.')}); the interpreter's own {top} is used"
        )
    return notes


def handler_environment(extra: dict) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV_PREFIXES)}
    env.update({str(k): "" if v is None else str(v) for k, v in extra.items()})
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def invoke(
    package: str,
    event: dict,
    environment: dict,
    python: str,
    timeout: int,
    log_lines: int,
    handler: str = DEFAULT_HANDLER,
) -> dict:
    workdir = tempfile.mkdtemp(prefix="etl-package-")
    result: dict = {"package_notes": [], "log_tail": []}
    try:
        unpack(package, workdir, handler)
        result["package_notes"] = drop_foreign(workdir, python)
        started = time.monotonic()
        try:
            proc = subprocess.run(  # noqa: S603 - our own interpreter and code
                [python, "-c", RUNNER, handler],
                cwd=workdir,
                env=handler_environment(environment),
                input=json.dumps(event),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InvokeError(f"the handler ran longer than {timeout} s and was stopped") from None
        result["duration_ms"] = int((time.monotonic() - started) * 1000)
        logs = [line for line in proc.stderr.splitlines() if line.strip()]
        result["log_tail"] = logs[-log_lines:] if log_lines > 0 else []
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        try:
            reply = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise InvokeError(
                f"the handler's process exited with {proc.returncode} without a result: "
                + " | ".join(logs[-5:])
            ) from None
        if not reply.get("ok"):
            result["stack_trace"] = reply.get("stackTrace", [])
            hint = ""
            if reply.get("errorType") in ("ModuleNotFoundError", "ImportError"):
                hint = f" (install the ETL's requirements into {python}'s environment)"
            raise InvokeError(
                f"the ETL handler failed: {reply.get('errorType')}: "
                f"{reply.get('errorMessage')}{hint}"
            )
        result["summary"] = reply["result"]
        return result
    except InvokeError as exc:
        exc.result = result
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


ARGUMENT_SPEC = {
    "package": {"type": "path", "required": True},
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "event": {"type": "dict", "required": True},
    "environment": {"type": "dict", "default": {}},
    "secret_environment": {"type": "dict", "default": {}, "no_log": True},
    "python": {"type": "path", "required": True},
    "timeout": {"type": "int", "default": 900},
    "log_lines": {"type": "int", "default": 20},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if module.check_mode:
        module.exit_json(changed=False, package_notes=[], log_tail=[])
    try:
        result = invoke(
            params["package"],
            params["event"],
            {**params["environment"], **params["secret_environment"]},
            params["python"] or sys.executable,
            params["timeout"],
            params["log_lines"],
            params["handler"],
        )
    except InvokeError as exc:
        module.fail_json(msg=str(exc), **(exc.result or {}))
    summary = result["summary"]
    changed = (
        isinstance(summary, dict)
        and not summary.get("dry_run")
        and (summary.get("objects_loaded", 0) > 0 or summary.get("rows_inserted", 0) > 0)
    )
    module.exit_json(changed=bool(changed), **result)


if __name__ == "__main__":
    main()
