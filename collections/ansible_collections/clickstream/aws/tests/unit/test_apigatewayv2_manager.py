"""HttpApiManager against a real botocore client with botocore's Stubber.

moto 5 implements neither UpdateStage, DeleteAccessLogSettings nor
CreateDeployment, so these paths cannot run in the moto integration tests.
Stubber checks every request against the apigatewayv2 service model and fails
on any call that was not expected, so these tests pin the exact calls (and,
in check mode, the absence of writing calls).
"""

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import (
    AWSRetry,
    RetryingBotoClientWrapper,
)
from botocore.stub import Stubber

from ansible_collections.clickstream.aws.plugins.module_utils import apigatewayv2 as m
from ansible_collections.clickstream.aws.tests.unit.samples import (
    LAMBDA_ALIAS,
    LOG_GROUP,
    integration_record,
    stage_record,
)

API_ID = "a1b2c3d4"


@pytest.fixture
def stubbed():
    client = boto3.client(
        "apigatewayv2",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def manager(client, check_mode=False):
    wrapped = RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=3, delay=0.01))
    return m.HttpApiManager(wrapped, region="eu-west-1", check_mode=check_mode)


def existing(stubber, *, stage, integrations=None, routes=None):
    """Queue the reads of an API that has one Lambda route and the given stage."""
    integrations = integrations or [integration_record()]
    routes = routes or [
        {"RouteId": "rt1", "RouteKey": "POST /clickstream", "Target": "integrations/int1"}
    ]
    api = {
        "ApiId": API_ID,
        "ApiEndpoint": f"https://{API_ID}.execute-api.eu-west-1.amazonaws.com",
        "Name": "clickstream-ingest",
        "ProtocolType": "HTTP",
        "RouteSelectionExpression": "$request.method $request.path",
        "Tags": {},
    }
    stubber.add_response("get_apis", {"Items": [api]}, {})
    stubber.add_response("get_integrations", {"Items": integrations}, {"ApiId": API_ID})
    stubber.add_response("get_routes", {"Items": routes}, {"ApiId": API_ID})
    stubber.add_response("get_stages", {"Items": [stage]}, {"ApiId": API_ID})


def default_stage(**fields):
    return stage_record(m.DEFAULT_ACCESS_LOG_FORMAT, **fields)


def desired(**stage_settings):
    settings = {
        "name": "$default",
        "throttling_burst_limit": 1000,
        "throttling_rate_limit": 500,
        "access_log": {"destination_arn": LOG_GROUP},
        **stage_settings,
    }
    return m.build_desired(
        {
            "name": "clickstream-ingest",
            "routes": [{"route_key": "POST /clickstream", "integration": {"uri": LAMBDA_ALIAS}}],
            "stages": [settings],
        }
    )


def test_in_sync_api_makes_no_writing_call(stubbed):
    client, stubber = stubbed
    existing(stubber, stage=default_stage())
    mgr = manager(client)
    mgr.load(name="clickstream-ingest")
    before = mgr.view()
    mgr.ensure_present(desired())
    assert mgr.changed is False
    assert mgr.operations == []
    assert mgr.view() == before


def test_throttling_change_calls_update_stage(stubbed):
    client, stubber = stubbed
    existing(stubber, stage=default_stage())
    updated = default_stage(
        DefaultRouteSettings={
            "DetailedMetricsEnabled": False,
            "ThrottlingBurstLimit": 2000,
            "ThrottlingRateLimit": 500.0,
        }
    )
    stubber.add_response(
        "update_stage",
        updated,
        {
            "ApiId": API_ID,
            "StageName": "$default",
            "DefaultRouteSettings": {
                "DetailedMetricsEnabled": False,
                "ThrottlingBurstLimit": 2000,
                "ThrottlingRateLimit": 500.0,
            },
        },
    )
    mgr = manager(client)
    mgr.load(name="clickstream-ingest")
    before = mgr.view()
    mgr.ensure_present(desired(throttling_burst_limit=2000))
    assert mgr.operations == ["update_stage"]
    assert before["stages"]["$default"]["throttling_burst_limit"] == 1000
    assert mgr.view()["stages"]["$default"]["throttling_burst_limit"] == 2000
    assert mgr.result()["stages"][0]["invoke_url"] == (
        f"https://{API_ID}.execute-api.eu-west-1.amazonaws.com"
    )


def test_check_mode_predicts_update_stage_without_calling_it(stubbed):
    client, stubber = stubbed
    existing(stubber, stage=default_stage())  # reads only: any write would fail the Stubber
    mgr = manager(client, check_mode=True)
    mgr.load(name="clickstream-ingest")
    mgr.ensure_present(desired(throttling_rate_limit=250, auto_deploy=False))
    assert mgr.changed is True
    assert mgr.operations == ["update_stage"]
    stage = mgr.view()["stages"]["$default"]
    assert stage["throttling_rate_limit"] == 250.0
    assert stage["auto_deploy"] is False


def test_update_stage_is_retried_on_throttling(stubbed):
    client, stubber = stubbed
    existing(stubber, stage=default_stage())
    stubber.add_client_error(
        "update_stage", service_error_code="TooManyRequestsException", http_status_code=429
    )
    stubber.add_response(
        "update_stage",
        default_stage(Description="public ingest"),
        {"ApiId": API_ID, "StageName": "$default", "Description": "public ingest"},
    )
    mgr = manager(client)
    mgr.load(name="clickstream-ingest")
    mgr.ensure_present(desired(description="public ingest"))
    assert mgr.operations == ["update_stage"]
    assert mgr.view()["stages"]["$default"]["description"] == "public ingest"


def test_disabling_access_logs_deletes_them(stubbed):
    client, stubber = stubbed
    existing(stubber, stage=default_stage())
    stubber.add_response(
        "delete_access_log_settings", {}, {"ApiId": API_ID, "StageName": "$default"}
    )
    mgr = manager(client)
    mgr.load(name="clickstream-ingest")
    mgr.ensure_present(desired(access_log={"enabled": False}))
    assert mgr.operations == ["delete_access_log_settings"]
    assert mgr.view()["stages"]["$default"]["access_log"] is None


def test_manual_stage_is_redeployed_when_the_route_moves_to_a_new_integration(stubbed):
    client, stubber = stubbed
    manual = default_stage(AutoDeploy=False, StageName="prod")
    old_alias = LAMBDA_ALIAS.replace(":live", ":previous")
    existing(
        stubber,
        stage=manual,
        integrations=[integration_record(IntegrationId="old1", IntegrationUri=old_alias)],
        routes=[{"RouteId": "rt1", "RouteKey": "POST /clickstream", "Target": "integrations/old1"}],
    )
    stubber.add_response(
        "create_integration",
        integration_record(IntegrationId="new1"),
        {
            "ApiId": API_ID,
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": LAMBDA_ALIAS,
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": 30000,
        },
    )
    stubber.add_response(
        "update_route",
        {"RouteId": "rt1", "RouteKey": "POST /clickstream", "Target": "integrations/new1"},
        {"ApiId": API_ID, "RouteId": "rt1", "Target": "integrations/new1"},
    )
    stubber.add_response("delete_integration", {}, {"ApiId": API_ID, "IntegrationId": "old1"})
    stubber.add_response(
        "create_deployment",
        {"DeploymentId": "dep1", "DeploymentStatus": "DEPLOYED"},
        {
            "ApiId": API_ID,
            "StageName": "prod",
            "Description": "Deployed by clickstream.aws.apigatewayv2_http_api",
        },
    )
    mgr = manager(client)
    mgr.load(name="clickstream-ingest")
    mgr.ensure_present(desired(name="prod", auto_deploy=False))
    assert mgr.operations == [
        "create_integration",
        "update_route",
        "delete_integration",
        "create_deployment",
    ]
    result = mgr.result()
    assert result["routes"] == [
        {
            "route_id": "rt1",
            "route_key": "POST /clickstream",
            "integration_id": "new1",
            "target": "integrations/new1",
        }
    ]
    assert [i["integration_id"] for i in result["integrations"]] == ["new1"]
    assert result["stages"][0]["invoke_url"].endswith("/prod")


def test_new_manual_stage_gets_a_deployment(stubbed):
    client, stubber = stubbed
    existing(stubber, stage=default_stage())
    prod = {"StageName": "prod", "AutoDeploy": False}
    stubber.add_response(
        "create_stage", prod, {"ApiId": API_ID, "StageName": "prod", "AutoDeploy": False}
    )
    stubber.add_response(
        "create_deployment",
        {"DeploymentId": "dep1"},
        {
            "ApiId": API_ID,
            "StageName": "prod",
            "Description": "Deployed by clickstream.aws.apigatewayv2_http_api",
        },
    )
    mgr = manager(client)
    mgr.load(name="clickstream-ingest")
    want = desired()
    want["stages"]["prod"] = {"auto_deploy": False}
    want["purge_stages"] = True
    mgr.ensure_present(want)
    assert mgr.operations == ["create_stage", "create_deployment"]


def test_two_apis_with_the_same_name_is_an_error_naming_both(stubbed):
    client, stubber = stubbed
    items = [
        {
            "ApiId": i,
            "Name": "clickstream-ingest",
            "ProtocolType": "HTTP",
            "RouteSelectionExpression": "$request.method $request.path",
        }
        for i in ("zzz111", "aaa222")
    ]
    items.append(
        {
            "ApiId": "ws1",
            "Name": "clickstream-ingest",
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
        }
    )
    stubber.add_response("get_apis", {"Items": items}, {})
    with pytest.raises(m.HttpApiError) as err:
        manager(client).load(name="clickstream-ingest")
    assert "2 HTTP APIs are named 'clickstream-ingest' (aaa222, zzz111)" in str(err.value)
    assert "api_id" in str(err.value)


def test_api_id_of_a_websocket_api_is_refused(stubbed):
    client, stubber = stubbed
    stubber.add_response(
        "get_api",
        {
            "ApiId": "ws1",
            "Name": "chat",
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
        },
        {"ApiId": "ws1"},
    )
    with pytest.raises(m.HttpApiError, match="is a WEBSOCKET API, not HTTP"):
        manager(client).load(api_id="ws1")


def test_absent_with_an_unknown_api_id_changes_nothing(stubbed):
    client, stubber = stubbed
    stubber.add_client_error(
        "get_api",
        service_error_code="NotFoundException",
        service_message="Invalid API identifier specified",
        http_status_code=404,
        expected_params={"ApiId": "gone1"},
    )
    mgr = manager(client)
    mgr.load(api_id="gone1")
    mgr.ensure_absent()
    assert (mgr.changed, mgr.operations) == (False, [])
    assert mgr.result() == {"api": {}, "integrations": [], "routes": [], "stages": []}
