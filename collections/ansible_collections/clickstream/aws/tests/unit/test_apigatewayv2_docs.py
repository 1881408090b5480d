"""DOCUMENTATION, EXAMPLES and RETURN agree with the module's argument spec.

ansible-test's validate-modules needs packages this project does not pin
(voluptuous), so the checks that matter to a playbook author are made here:
every option is documented with its real type, default, choices and
suboptions, and every example validates against the argument spec.
"""

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.amazon.aws.plugins.doc_fragments.tags import (
    ModuleDocFragment as TagsFragment,
)
from ansible_collections.clickstream.aws.plugins.modules import apigatewayv2_http_api as module

DOC = yaml.safe_load(module.DOCUMENTATION)
KEYS = ("type", "default", "choices", "required", "elements", "aliases")


def compare(spec: dict, documented: dict, path: str) -> list[str]:
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


def test_every_option_is_documented_as_the_code_defines_it():
    documented = {**yaml.safe_load(TagsFragment.DOCUMENTATION)["options"], **DOC["options"]}
    assert compare(module.ARGUMENT_SPEC, documented, "") == []


def test_docs_use_the_amazon_aws_connection_fragments():
    fragments = DOC["extends_documentation_fragment"]
    assert "amazon.aws.common.modules" in fragments
    assert "amazon.aws.region.modules" in fragments
    assert "amazon.aws.tags" in fragments
    assert DOC["module"] == "apigatewayv2_http_api"


def test_every_example_validates_against_the_argument_spec():
    examples = yaml.safe_load(module.EXAMPLES)
    calls = []
    for task in examples:
        for inner in [task, *task.get("block", [])]:
            if "clickstream.aws.apigatewayv2_http_api" in inner:
                calls.append(inner["clickstream.aws.apigatewayv2_http_api"])
    assert len(calls) >= 3
    validator = ArgumentSpecValidator(module.ARGUMENT_SPEC)
    for args in calls:
        result = validator.validate(args)
        assert result.error_messages == [], args
        assert result.unsupported_parameters == set(), args


def test_return_documents_the_ids_a_playbook_needs():
    ret = yaml.safe_load(module.RETURN)
    assert {"api_id", "api_endpoint", "execution_arn"} <= set(ret["api"]["contains"])
    assert "integration_id" in ret["integrations"]["contains"]
    assert {"route_id", "integration_id"} <= set(ret["routes"]["contains"])
    assert {"stage_name", "invoke_url"} <= set(ret["stages"]["contains"])
    assert ret["operations"]["returned"] == "always"
