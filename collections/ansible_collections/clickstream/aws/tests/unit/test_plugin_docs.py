"""Every module and filter of the collection documents what its code does.

For each module: DOCUMENTATION names it and documents every option as the
argument spec defines it (plugin_docs.compare), EXAMPLES call it by FQCN with
arguments the spec accepts, RETURN parses and says when each value is
returned. For each filter: a YAML doc file of its name beside the code, whose
options are the function's parameters, and whose EXAMPLES run (one
ansible-playbook on localhost). ansible-doc reads every one of them, and every
module that talks to AWS is in the ``aws`` action group, so a play's
``module_defaults`` for ``group/clickstream.aws.aws`` reach it.
(apigatewayv2_http_api has its own, fuller test: test_apigatewayv2_docs.py.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

from ansible_collections.clickstream.aws.plugins.filter.etl_rerun_report import FilterModule
from ansible_collections.clickstream.aws.tests.unit.plugin_docs import (
    compare,
    example_calls,
    example_problems,
)
from ansible_moto import run_playbook, write_playbook

COLLECTION = Path(__file__).resolve().parents[2]
PROJECT_ROOT = COLLECTION.parents[3]
MODULES = ["lambda_zip", "lambda_publish_version", "etl_rerun_plan", "etl_package_invoke"]
FILTERS = FilterModule().filters()
AWS_FRAGMENTS = {"amazon.aws.common.modules", "amazon.aws.region.modules", "amazon.aws.boto3"}


def load(name: str):
    return importlib.import_module(f"ansible_collections.clickstream.aws.plugins.modules.{name}")


def talks_to_aws(module) -> bool:
    return "AnsibleAWSModule" in inspect.getsource(module)


def full_spec(module) -> dict:
    """The options the module accepts: its own, plus AnsibleAWSModule's connection ones."""
    return (
        {**aws_argument_spec(), **module.ARGUMENT_SPEC}
        if talks_to_aws(module)
        else dict(module.ARGUMENT_SPEC)
    )


@pytest.mark.parametrize("name", MODULES)
def test_every_option_is_documented_as_the_code_defines_it(name: str) -> None:
    module = load(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    assert doc["short_description"]
    assert doc["author"]
    assert compare(module.ARGUMENT_SPEC, doc["options"]) == []
    fragments = set(doc.get("extends_documentation_fragment", []))
    # The connection options come documented from amazon.aws's fragments.
    assert fragments == (AWS_FRAGMENTS if talks_to_aws(module) else set())


@pytest.mark.parametrize("name", MODULES)
def test_every_example_validates_against_the_argument_spec(name: str) -> None:
    module = load(name)
    calls = example_calls(module.EXAMPLES, f"clickstream.aws.{name}")
    assert len(calls) >= 2, "at least two examples of the module"
    assert example_problems(full_spec(module), calls) == []


@pytest.mark.parametrize("name", MODULES)
def test_return_says_what_each_value_is_and_when(name: str) -> None:
    returned = yaml.safe_load(load(name).RETURN)
    assert returned
    for key, value in returned.items():
        assert {"description", "returned", "type"} <= set(value), key


def test_every_module_that_talks_to_aws_is_in_the_aws_action_group() -> None:
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    group = {entry for entry in runtime["action_groups"]["aws"] if isinstance(entry, str)}
    modules = sorted(p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py"))
    assert {name for name in modules if talks_to_aws(load(name))} == group
    assert "lambda_publish_version" in group


def filter_doc(name: str) -> dict:
    return yaml.safe_load((COLLECTION / "plugins" / "filter" / f"{name}.yml").read_text())


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_documents_its_parameters(name: str) -> None:
    doc = filter_doc(name)
    documentation = doc["DOCUMENTATION"]
    assert documentation["name"] == name
    assert documentation["short_description"]
    parameters = list(inspect.signature(FILTERS[name]).parameters)
    # The piped value is _input; any further parameter is an option of its name.
    assert list(documentation["options"]) == ["_input", *parameters[1:]]
    assert documentation["options"]["_input"]["required"] is True
    assert documentation["options"]["_input"].get("description")
    assert doc["RETURN"]["_value"]["type"]
    assert f"clickstream.aws.{name}" in doc["EXAMPLES"]


def test_every_filter_example_runs(tmp_path: Path) -> None:
    tasks = [
        task for name in sorted(FILTERS) for task in yaml.safe_load(filter_doc(name)["EXAMPLES"])
    ]
    play = {"name": "Filter examples", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
    run = run_playbook(write_playbook(tmp_path / "examples.yml", play))
    assert run.returncode == 0, run.output
    messages = [result.get("msg") for _, result in run.task_results() if "msg" in result]
    assert len(messages) == 4
    assert any("(run 7)" in line for lines in messages if isinstance(lines, list) for line in lines)
    assert "1 reject(s)" in messages


def ansible_doc(plugin_type: str, names: list[str]) -> dict:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", "-t", plugin_type, *names],
        cwd=PROJECT_ROOT,  # the project's ansible.cfg: collections_path
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_ansible_doc_reads_every_module_and_filter() -> None:
    modules = ansible_doc("module", [f"clickstream.aws.{name}" for name in MODULES])
    filters = ansible_doc("filter", [f"clickstream.aws.{name}" for name in FILTERS])
    for docs in (modules, filters):
        for name, doc in docs.items():
            assert doc["doc"]["description"], name
            assert doc["examples"], name
            assert doc["return"], name
    assert set(modules) == {f"clickstream.aws.{name}" for name in MODULES}
    assert set(filters) == {f"clickstream.aws.{name}" for name in FILTERS}
