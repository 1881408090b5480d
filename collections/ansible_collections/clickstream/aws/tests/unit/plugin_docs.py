"""Checks that a plugin's documentation agrees with its code, shared by the docs tests.

ansible-test's validate-modules needs packages this project does not pin
(voluptuous), so the checks that matter to a playbook author are made here:
every option is documented with its real type, default, choices and
suboptions (:func:`compare`), and every example task validates against the
argument spec (:func:`example_calls`, :func:`example_problems`).
"""

from __future__ import annotations

from typing import Any

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

KEYS = ("type", "default", "choices", "required", "elements", "aliases")
# What a templated value ("{{ ... }}") of an option of each type stands for: any
# value of that type, known only when the task runs.
PLACEHOLDERS = {"bool": True, "int": 1, "float": 1.0, "list": [], "dict": {}}


def compare(spec: dict, documented: dict, path: str = "") -> list[str]:
    """Where ``documented`` (DOCUMENTATION's options) differs from ``spec`` (the
    argument spec), option by option and down through suboptions."""
    problems = []
    for name in sorted(set(spec) | set(documented)):
        where = f"{path}{name}"
        if name not in documented:
            problems.append(f"{where}: in argument_spec but not documented")
            continue
        if name not in spec:
            problems.append(f"{where}: documented but not in argument_spec")
            continue
        arg, doc = spec[name], documented[name]
        if not doc.get("description"):
            problems.append(f"{where}: no description")
        for key in KEYS:
            want = arg.get(key, False if key == "required" else None)
            have = doc.get(key, False if key == "required" else None)
            if key == "type":
                want = want or "str"
            if want != have:
                problems.append(f"{where}: {key} is {want!r} in code, {have!r} in docs")
        problems += compare(arg.get("options") or {}, doc.get("suboptions") or {}, where + ".")
    return problems


def example_calls(examples: str, fqcn: str) -> list[dict[str, Any]]:
    """The arguments of every task in ``examples`` (EXAMPLES' text) that calls
    ``fqcn``, blocks included."""
    calls = []
    for task in yaml.safe_load(examples):
        for inner in [task, *task.get("block", [])]:
            if fqcn in inner:
                calls.append(inner[fqcn] or {})
    return calls


def _untemplated(spec: dict, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` with each templated value of a bool, int, float, list or dict
    option replaced by a value of that type (a string option takes the template
    as it is written)."""
    concrete = dict(args)
    for name, value in args.items():
        kind = (spec.get(name) or {}).get("type", "str")
        if isinstance(value, str) and "{{" in value and kind in PLACEHOLDERS:
            concrete[name] = PLACEHOLDERS[kind]
    return concrete


def example_problems(spec: dict, calls: list[dict[str, Any]]) -> list[str]:
    """What ArgumentSpecValidator finds wrong in each example call: unknown
    options, missing required ones, wrong types and choices."""
    validator = ArgumentSpecValidator(spec)
    problems = []
    for args in calls:
        result = validator.validate(_untemplated(spec, args))
        # Unknown options are among the error messages too.
        problems += [f"{args}: {message}" for message in result.error_messages]
    return problems
