"""clickstream.aws.apigatewayv2_http_api run by ansible-playbook against a moto server.

One ThreadedMotoServer on a free 127.0.0.1 port serves the whole module. Each
step runs a real playbook (the project's ansible.cfg, cwd at the project root,
connection settings through `module_defaults: group/clickstream.aws.aws`) and
the result is checked by reading the API back with boto3.

moto 5 does not implement UpdateStage nor CreateDeployment: changing an
existing stage is exercised here only in check mode (which makes no writing
call); the calls themselves are covered in tests/unit/test_apigatewayv2_manager.py.
"""

import json
from pathlib import Path

import pytest

from ansible_moto import local_play, run_playbook, threaded_moto, write_playbook

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ALIAS_LIVE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:clickstream-ingest:live"
ALIAS_NEXT = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:clickstream-ingest:next"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/clickstream-ingest"
LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
}


@pytest.fixture(scope="module")
def moto():
    with threaded_moto(REGION) as server:
        yield server


@pytest.fixture(scope="module")
def apigw(moto):
    return moto.client("apigatewayv2")


def task(module_args: dict, **keywords) -> dict:
    """A task of this module; expected failures are asserted on, so they do not stop the play."""
    return {
        "name": "HTTP API",
        "clickstream.aws.apigatewayv2_http_api": module_args,
        "ignore_errors": True,
        **keywords,
    }


class Runner:
    """Writes a one-play playbook of the given tasks, runs it, returns each task's result."""

    def __init__(self, endpoint: str, workdir: Path) -> None:
        self.endpoint = endpoint
        self.workdir = workdir
        self.count = 0

    def __call__(self, *tasks: dict, flags: tuple[str, ...] = ()) -> list[dict]:
        self.count += 1
        play = local_play("apigatewayv2_http_api test", self.endpoint, REGION, tasks=list(tasks))
        playbook = write_playbook(self.workdir / f"play{self.count}.yml", play)
        result = run_playbook(playbook, *flags)
        assert result.returncode == 0, result.output
        return [t["hosts"]["localhost"] for t in result.report["plays"][0]["tasks"]]


@pytest.fixture(scope="module")
def run(moto, tmp_path_factory):
    return Runner(moto.url, tmp_path_factory.mktemp("playbooks"))


def api_args(**overrides) -> dict:
    args = {
        "name": "clickstream-ingest",
        "description": "Clickstream ingest endpoint",
        "cors": {
            "allow_origins": ["https://shop.example.com"],
            "allow_methods": ["POST", "OPTIONS"],
            "allow_headers": ["Content-Type", "X-Amzn-Trace-Id"],
            "max_age": 300,
        },
        "routes": [
            {
                "route_key": "POST /clickstream",
                "integration": {"uri": ALIAS_LIVE, "payload_format_version": "2.0"},
            }
        ],
        "stages": [
            {
                "name": "$default",
                "auto_deploy": True,
                "throttling_burst_limit": 1000,
                "throttling_rate_limit": 500,
                # cloudwatchlogs_log_group returns the ARN with ':*'; the module drops it
                "access_log": {"destination_arn": LOG_GROUP + ":*", "format": LOG_FORMAT},
            }
        ],
        "tags": {"project": "clickstream", "component": "ingest"},
    }
    args.update(overrides)
    return args


def apis_named(apigw, name: str) -> list[dict]:
    return [a for a in apigw.get_apis()["Items"] if a["Name"] == name]


def read_back(apigw, name: str) -> dict:
    (api,) = apis_named(apigw, name)
    api_id = api["ApiId"]
    return {
        "api": api,
        "integrations": apigw.get_integrations(ApiId=api_id)["Items"],
        "routes": apigw.get_routes(ApiId=api_id)["Items"],
        "stages": apigw.get_stages(ApiId=api_id)["Items"],
    }


def test_lifecycle(run, apigw):
    # -- create everything; the same module_defaults group serves amazon.aws too ----
    caller = {"name": "Caller identity", "amazon.aws.aws_caller_info": {}}
    created, identity = run(task(api_args(), diff=True), caller)
    assert created.get("failed") is not True, created.get("msg")
    assert created["changed"] is True
    assert created["operations"] == [
        "create_api",
        "create_integration",
        "create_route",
        "create_stage",
    ]
    assert identity["account"] == ACCOUNT
    assert created["diff"]["before"] == {}

    state = read_back(apigw, "clickstream-ingest")
    api = state["api"]
    assert api["ProtocolType"] == "HTTP"
    assert api["Description"] == "Clickstream ingest endpoint"
    cors = api["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["https://shop.example.com"]
    assert sorted(cors["AllowMethods"]) == ["OPTIONS", "POST"]
    assert sorted(h.lower() for h in cors["AllowHeaders"]) == ["content-type", "x-amzn-trace-id"]
    assert cors["MaxAge"] == 300
    assert api["Tags"] == {"project": "clickstream", "component": "ingest"}
    (integration,) = state["integrations"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == ALIAS_LIVE
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["TimeoutInMillis"] == 30000
    (route,) = state["routes"]
    assert route["RouteKey"] == "POST /clickstream"
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    (stage,) = state["stages"]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 1000
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 500.0
    assert stage["AccessLogSettings"]["DestinationArn"] == LOG_GROUP
    assert json.loads(stage["AccessLogSettings"]["Format"]) == LOG_FORMAT

    # the return values name what was created
    assert created["api"]["api_id"] == api["ApiId"]
    assert created["api"]["api_endpoint"] == api["ApiEndpoint"]
    assert created["api"]["execution_arn"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['ApiId']}"
    )
    assert created["integrations"][0]["integration_id"] == integration["IntegrationId"]
    assert created["routes"][0] == {
        "route_id": route["RouteId"],
        "route_key": "POST /clickstream",
        "integration_id": integration["IntegrationId"],
        "target": route["Target"],
    }
    assert created["stages"][0]["stage_name"] == "$default"
    assert created["stages"][0]["invoke_url"] == api["ApiEndpoint"]
    # the diff's "after" is what AWS now holds
    after = created["diff"]["after"]
    assert after["routes"]["POST /clickstream"]["integration"]["uri"] == ALIAS_LIVE
    assert after["stages"]["$default"]["throttling_burst_limit"] == 1000

    # -- the same run again changes nothing, also in check mode; check mode reports a --
    # -- change without writing it ------------------------------------------------------
    again, checked, preview = run(
        task(api_args()),
        task(api_args(), check_mode=True, diff=True),
        task(api_args(description="Ingest v2"), check_mode=True, diff=True),
    )
    assert again["changed"] is False
    assert again["operations"] == []
    assert again["api"]["api_id"] == api["ApiId"]
    assert checked["changed"] is False
    assert checked["diff"]["before"] == checked["diff"]["after"]
    assert preview["changed"] is True
    assert preview["operations"] == ["update_api"]
    assert preview["diff"]["before"]["description"] == "Clickstream ingest endpoint"
    assert preview["diff"]["after"]["description"] == "Ingest v2"
    assert read_back(apigw, "clickstream-ingest")["api"]["Description"] == (
        "Clickstream ingest endpoint"
    )

    # -- change API, CORS, tags and the integration's timeout, with a diff -------------
    changed_args = api_args(
        description="Ingest v2",
        tags={"project": "clickstream", "owner": "platform"},
    )
    changed_args["cors"]["max_age"] = 600
    changed_args["routes"][0]["integration"]["timeout_ms"] = 10000
    changed, changed_again = run(task(changed_args, diff=True), task(changed_args))
    assert changed["changed"] is True
    assert changed["operations"] == [
        "update_api",
        "untag_resource",
        "tag_resource",
        "update_integration",
    ]
    before, after = changed["diff"]["before"], changed["diff"]["after"]
    assert (before["cors"]["max_age"], after["cors"]["max_age"]) == (300, 600)
    assert before["tags"] == {"project": "clickstream", "component": "ingest"}
    assert after["tags"] == {"project": "clickstream", "owner": "platform"}
    assert before["routes"]["POST /clickstream"]["integration"]["timeout_ms"] == 30000
    assert after["routes"]["POST /clickstream"]["integration"]["timeout_ms"] == 10000
    assert before["stages"] == after["stages"]
    state = read_back(apigw, "clickstream-ingest")
    assert state["api"]["Description"] == "Ingest v2"
    assert state["api"]["CorsConfiguration"]["MaxAge"] == 600
    assert state["api"]["Tags"] == {"project": "clickstream", "owner": "platform"}
    assert state["integrations"][0]["TimeoutInMillis"] == 10000
    assert changed_again["changed"] is False

    # -- pointing the route at another alias: new integration, old one removed ----------
    moved_args = json.loads(json.dumps(changed_args))
    moved_args["routes"][0]["integration"]["uri"] = ALIAS_NEXT
    (moved,) = run(task(moved_args))
    assert moved["operations"] == ["create_integration", "update_route", "delete_integration"]
    state = read_back(apigw, "clickstream-ingest")
    (integration,) = state["integrations"]
    assert integration["IntegrationUri"] == ALIAS_NEXT
    assert state["routes"][0]["Target"] == f"integrations/{integration['IntegrationId']}"
    assert state["routes"][0]["RouteId"] == route["RouteId"]  # the route was kept

    # -- a stage change: moto has no UpdateStage, so only its check-mode plan runs here --
    stage_args = json.loads(json.dumps(moved_args))
    stage_args["stages"][0]["throttling_rate_limit"] = 250
    (planned,) = run(task(stage_args), flags=("--check", "--diff"))
    assert planned["changed"] is True
    assert planned["operations"] == ["update_stage"]
    assert planned["diff"]["before"]["stages"]["$default"]["throttling_rate_limit"] == 500.0
    assert planned["diff"]["after"]["stages"]["$default"]["throttling_rate_limit"] == 250.0
    stage = read_back(apigw, "clickstream-ingest")["stages"][0]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 500.0

    # -- delete, then deleting again is a no-op --------------------------------------
    absent = {"name": "clickstream-ingest", "state": "absent"}
    deleted, deleted_again = run(task(absent, diff=True), task(absent))
    assert deleted["changed"] is True
    assert deleted["operations"] == ["delete_api"]
    assert deleted["diff"]["after"] == {}
    assert apis_named(apigw, "clickstream-ingest") == []
    assert deleted_again["changed"] is False
    assert deleted_again["operations"] == []


def test_two_apis_with_the_same_name_fail_clearly(run, apigw):
    ids = sorted(
        apigw.create_api(Name="clickstream-twice", ProtocolType="HTTP")["ApiId"] for _ in range(2)
    )
    result, picked = run(
        task(api_args(name="clickstream-twice")),
        # api_id picks one; the other is left alone
        task(api_args(name="clickstream-twice", api_id=ids[0])),
    )
    assert result["failed"] is True
    assert result["msg"] == (
        f"2 HTTP APIs are named 'clickstream-twice' ({ids[0]}, {ids[1]}); "
        "set api_id to pick one or delete the extra APIs"
    )
    assert picked["changed"] is True
    assert picked["api"]["api_id"] == ids[0]
    assert apigw.get_routes(ApiId=ids[1])["Items"] == []
    for api_id in ids:
        apigw.delete_api(ApiId=api_id)


def test_check_mode_on_a_new_api_and_bad_input_create_nothing(run, apigw):
    bad = api_args(name="clickstream-bad")
    bad["routes"][0]["route_key"] = "POST clickstream"
    preview, refused = run(task(api_args(name="clickstream-preview"), check_mode=True), task(bad))
    assert preview["changed"] is True
    assert preview["operations"] == [
        "create_api",
        "create_integration",
        "create_route",
        "create_stage",
    ]
    assert preview["api"]["api_id"] is None  # not known before the API exists
    assert preview["routes"][0]["route_key"] == "POST /clickstream"
    assert refused["failed"] is True
    assert "'POST clickstream' is not a route key" in refused["msg"]
    assert refused["operations"] == []
    assert apis_named(apigw, "clickstream-preview") == []
    assert apis_named(apigw, "clickstream-bad") == []
