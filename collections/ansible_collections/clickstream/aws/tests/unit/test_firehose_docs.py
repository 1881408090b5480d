"""firehose_delivery_stream's DOCUMENTATION, EXAMPLES and RETURN agree with its code.

The option-by-option comparison and the example validation are plugin_docs'
(shared with test_plugin_docs.py); the tags fragment's options are part of the
module's argument spec, so they are compared too. ansible-doc reads the
module, and it is in the collection's ``aws`` action group.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from ansible_collections.amazon.aws.plugins.doc_fragments.tags import (
    ModuleDocFragment as TagsFragment,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

from ansible_collections.clickstream.aws.plugins.module_utils import firehose
from ansible_collections.clickstream.aws.plugins.modules import firehose_delivery_stream as module
from ansible_collections.clickstream.aws.plugins.modules import (
    firehose_delivery_stream_info as info_module,
)
from ansible_collections.clickstream.aws.tests.unit.plugin_docs import (
    compare,
    example_calls,
    example_problems,
)

FQCN = "clickstream.aws.firehose_delivery_stream"
INFO_FQCN = "clickstream.aws.firehose_delivery_stream_info"
COLLECTION = Path(__file__).resolve().parents[2]
DOC = yaml.safe_load(module.DOCUMENTATION)


def test_every_option_is_documented_as_the_code_defines_it():
    documented = {**yaml.safe_load(TagsFragment.DOCUMENTATION)["options"], **DOC["options"]}
    assert compare(module.ARGUMENT_SPEC, documented) == []
    assert DOC["module"] == "firehose_delivery_stream"
    assert DOC["version_added"] == "1.2.0"
    assert set(DOC["extends_documentation_fragment"]) == {
        "amazon.aws.common.modules",
        "amazon.aws.region.modules",
        "amazon.aws.tags",
        "amazon.aws.boto3",
    }


def test_documented_defaults_are_the_ones_the_code_uses():
    options = DOC["options"]
    assert options["prefix"]["default"] == firehose.DEFAULT_PREFIX == "events/"
    assert options["error_output_prefix"]["default"] == firehose.DEFAULT_ERROR_OUTPUT_PREFIX
    assert options["buffering_size"]["default"] == firehose.DEFAULT_BUFFERING_SIZE
    assert options["buffering_interval"]["default"] == firehose.DEFAULT_BUFFERING_INTERVAL
    assert options["compression"]["choices"] == list(firehose.COMPRESSION_FORMATS)
    logging = options["cloudwatch_logging"]["suboptions"]
    assert logging["log_stream_name"]["default"] == firehose.DEFAULT_LOG_STREAM


def test_every_example_validates_against_the_argument_spec():
    calls = example_calls(module.EXAMPLES, FQCN)
    assert len(calls) >= 3
    spec = {**aws_argument_spec(), **module.ARGUMENT_SPEC}
    assert example_problems(spec, calls) == []


def test_return_documents_what_a_playbook_needs():
    returned = yaml.safe_load(module.RETURN)
    for key, value in returned.items():
        assert {"description", "returned", "type"} <= set(value), key
    stream = returned["delivery_stream"]["contains"]
    assert {"arn", "status", "version_id", "destination_id", "encryption_status"} <= set(stream)
    # every managed setting is returned under its option's name
    settings = set(firehose.build_desired(_minimal())["settings"])
    assert settings <= set(stream)
    assert returned["operations"]["returned"] == "always"


def _minimal():
    return {
        "name": "clickstream-events",
        "bucket_arn": "arn:aws:s3:::clickstream-raw",
        "role_arn": "arn:aws:iam::123456789012:role/clickstream-firehose",
    }


def test_the_module_is_in_the_aws_action_group():
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    assert "firehose_delivery_stream" in runtime["action_groups"]["aws"]


def test_ansible_doc_reads_the_module():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", FQCN],
        cwd=COLLECTION.parents[3],  # the project's ansible.cfg: collections_path
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)[FQCN]
    assert doc["doc"]["description"]
    assert doc["examples"]
    assert set(doc["return"]) == {"delivery_stream", "operations"}
    assert "tags" in doc["doc"]["options"]  # from amazon.aws.tags


def test_the_info_module_documents_its_code_and_returns_the_stream_module_shape():
    doc = yaml.safe_load(info_module.DOCUMENTATION)
    assert compare(info_module.ARGUMENT_SPEC, doc["options"]) == []
    assert doc["module"] == "firehose_delivery_stream_info"
    spec = {**aws_argument_spec(), **info_module.ARGUMENT_SPEC}
    assert example_problems(spec, example_calls(info_module.EXAMPLES, INFO_FQCN)) == []
    returned = yaml.safe_load(info_module.RETURN)
    stream = yaml.safe_load(module.RETURN)["delivery_stream"]["contains"]
    for key, value in returned["delivery_stream"]["contains"].items():
        assert value == stream[key], key
    assert returned["exists"]["type"] == "bool"
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    assert "firehose_delivery_stream_info" in runtime["action_groups"]["aws"]
