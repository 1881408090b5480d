"""DOCUMENTATION, EXAMPLES and RETURN agree with the module's argument spec.

The option-by-option comparison and the example validation are plugin_docs'
(shared with test_plugin_docs.py); the tags fragment's options are part of
this module's own argument spec, so they are compared too.
"""

import yaml
from ansible_collections.amazon.aws.plugins.doc_fragments.tags import (
    ModuleDocFragment as TagsFragment,
)

from ansible_collections.clickstream.aws.plugins.modules import apigatewayv2_http_api as module
from ansible_collections.clickstream.aws.tests.unit.plugin_docs import (
    compare,
    example_calls,
    example_problems,
)

DOC = yaml.safe_load(module.DOCUMENTATION)


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
    calls = example_calls(module.EXAMPLES, "clickstream.aws.apigatewayv2_http_api")
    assert len(calls) >= 3
    assert example_problems(module.ARGUMENT_SPEC, calls) == []


def test_return_documents_the_ids_a_playbook_needs():
    ret = yaml.safe_load(module.RETURN)
    assert {"api_id", "api_endpoint", "execution_arn"} <= set(ret["api"]["contains"])
    assert "integration_id" in ret["integrations"]["contains"]
    assert {"route_id", "integration_id"} <= set(ret["routes"]["contains"])
    assert {"stage_name", "invoke_url"} <= set(ret["stages"]["contains"])
    assert ret["operations"]["returned"] == "always"
