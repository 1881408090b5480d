"""The module's desired-state, comparison and request-building logic, without AWS.

These are the functions that decide whether a playbook run changes anything and
what it sends; the update_stage path is only exercised here and in
test_apigatewayv2_manager.py, because moto 5 does not implement UpdateStage.
"""

import json

import pytest

from ansible_collections.clickstream.aws.plugins.module_utils import apigatewayv2 as m
from ansible_collections.clickstream.aws.tests.unit.samples import (
    LAMBDA_ALIAS,
    LOG_GROUP,
    integration_record,
    stage_record,
)


def params(**overrides):
    base = {
        "name": "clickstream-ingest",
        "description": None,
        "disable_execute_api_endpoint": None,
        "cors": None,
        "tags": None,
        "purge_tags": True,
        "routes": None,
        "purge_routes": True,
        "stages": None,
        "purge_stages": True,
    }
    base.update(overrides)
    return base


def route(key="POST /clickstream", **integration):
    return {"route_key": key, "integration": {"uri": LAMBDA_ALIAS, **integration}}


def stage(**settings):
    return {"name": "$default", "auto_deploy": True, **settings}


# -- build_desired: only managed keys, canonical values ----------------------------


def test_unset_options_are_left_unmanaged():
    assert m.build_desired(params()) == {"name": "clickstream-ingest"}


def test_lambda_route_defaults_to_payload_2_and_30s_timeout():
    desired = m.build_desired(params(routes=[route()]))
    assert desired["routes"] == {
        "POST /clickstream": {
            "type": "AWS_PROXY",
            "uri": LAMBDA_ALIAS,
            "payload_format_version": "2.0",
            "timeout_ms": 30000,
        }
    }
    assert desired["purge_routes"] is True


def test_http_proxy_route_defaults_to_payload_1_and_any_method():
    spec = m.desired_integration({"type": "HTTP_PROXY", "uri": "https://backend.local/x"}, "i")
    assert spec["payload_format_version"] == "1.0"
    assert spec["method"] == "ANY"


def test_stage_settings_are_typed():
    desired = m.build_desired(
        params(
            stages=[
                stage(
                    throttling_burst_limit="1000",
                    throttling_rate_limit=500,
                    access_log={"destination_arn": LOG_GROUP + ":*", "format": None},
                )
            ]
        )
    )
    spec = desired["stages"]["$default"]
    assert spec["throttling_burst_limit"] == 1000
    assert spec["throttling_rate_limit"] == 500.0
    assert spec["access_log"]["destination_arn"] == LOG_GROUP  # ':*' removed
    assert spec["access_log"]["format"] == m.DEFAULT_ACCESS_LOG_FORMAT
    assert "$context.requestId" in json.loads(m.DEFAULT_ACCESS_LOG_FORMAT).values()


def test_access_log_format_dict_is_sent_as_compact_json():
    fmt = {"requestId": "$context.requestId", "status": "$context.status"}
    log = m.desired_access_log({"destination_arn": LOG_GROUP, "format": fmt}, "s")
    assert log["format"] == '{"requestId":"$context.requestId","status":"$context.status"}'


def test_disabled_cors_and_access_log_mean_remove():
    desired = m.build_desired(
        params(cors={"enabled": False}, stages=[stage(access_log={"enabled": False})])
    )
    assert desired["cors"] is None
    assert desired["stages"]["$default"]["access_log"] is None


BAD_INPUTS = [
    (params(name=None), "name is required"),
    (params(routes=[route("POST clickstream")]), "is not a route key"),
    (params(routes=[route("FETCH /x")]), "is not a route key"),
    (params(routes=[route(), route()]), "listed twice"),
    (params(routes=[{"route_key": "POST /a", "integration": None}]), "needs an integration"),
    (params(routes=[route(uri="")]), "uri is required"),
    (params(routes=[route(uri="clickstream-ingest")]), "not a Lambda function or alias ARN"),
    (params(routes=[route(payload_format_version="3.0")]), "'1.0' or '2.0'"),
    (params(routes=[route(timeout_ms=40000)]), "between 50 and 30000"),
    (params(routes=[route(timeout_ms=10)]), "between 50 and 30000"),
    (params(routes=[route(method="POST")]), "only applies to HTTP_PROXY"),
    (params(routes=[route(type="HTTP_PROXY", uri="ftp://x")]), "http:// or https://"),
    (
        params(routes=[route(type="HTTP_PROXY", uri="http://x", payload_format_version="2.0")]),
        "only support payload 1.0",
    ),
    (params(routes=[route(type="MOCK")]), "AWS_PROXY or HTTP_PROXY"),
    (
        params(routes=[route("POST /a"), route("POST /b", timeout_ms=1000)]),
        "same integration",
    ),
    (params(cors={"allow_methods": ["FETCH"]}), "unknown methods"),
    (params(cors={"allow_origins": "*"}), "list of strings"),
    (params(cors={"allow_origins": [""]}), "non-empty strings"),
    (params(cors={"max_age": 90000}), "between -1 and 86400"),
    (
        params(cors={"allow_origins": ["*"], "allow_credentials": True}),
        "cannot be true while cors.allow_origins contains '*'",
    ),
    (params(stages=[stage(name="prod stage")]), "must be '$default' or"),
    (params(stages=[stage(), stage()]), "listed twice"),
    (params(stages=[stage(throttling_burst_limit=-1)]), "must be >= 0"),
    (params(stages=[stage(throttling_rate_limit=-0.5)]), "must be >= 0"),
    (params(stages=[stage(access_log={})]), "destination_arn is required"),
    (
        params(stages=[stage(access_log={"destination_arn": "arn:aws:s3:::bucket"})]),
        "not a CloudWatch Logs log group ARN",
    ),
    (
        params(stages=[stage(access_log={"destination_arn": LOG_GROUP, "format": "$status"})]),
        "must include $context.requestId",
    ),
    (
        params(stages=[stage(access_log={"destination_arn": LOG_GROUP, "format": 42})]),
        "non-empty string or a dict",
    ),
]


@pytest.mark.parametrize(("bad", "message"), BAD_INPUTS)
def test_bad_input_gets_a_clear_error(bad, message):
    with pytest.raises(m.HttpApiError) as err:
        m.build_desired(bad)
    assert message in str(err.value)


# -- API and CORS comparison --------------------------------------------------------


def api(**fields):
    return {
        "ApiId": "abc123",
        "Name": "clickstream-ingest",
        "ProtocolType": "HTTP",
        "DisableExecuteApiEndpoint": False,
        **fields,
    }


def test_cors_compares_without_case_or_order():
    current = api(
        CorsConfiguration={
            "AllowOrigins": ["https://b.example", "https://a.example"],
            "AllowMethods": ["post", "OPTIONS"],
            "AllowHeaders": ["content-type", "X-Amzn-Trace-Id"],
            "MaxAge": 300,
        }
    )
    desired = m.build_desired(
        params(
            cors={
                "allow_origins": ["https://a.example", "https://b.example"],
                "allow_methods": ["OPTIONS", "POST"],
                "allow_headers": ["Content-Type", "x-amzn-trace-id"],
                "max_age": 300,
            }
        )
    )
    assert m.api_changes(current, desired) == {}


def test_cors_change_sends_the_whole_configuration():
    current = api(CorsConfiguration={"AllowOrigins": ["*"], "AllowMethods": ["POST"]})
    desired = m.build_desired(params(cors={"allow_origins": ["*"], "allow_methods": ["POST"]}))
    desired["cors"]["max_age"] = 600
    assert m.api_changes(current, desired) == {
        "CorsConfiguration": {
            "AllowOrigins": ["*"],
            "AllowMethods": ["POST"],
            "AllowHeaders": [],
            "ExposeHeaders": [],
            "AllowCredentials": False,
            "MaxAge": 600,
        }
    }


def test_cors_header_removal_is_sent_as_an_empty_list():
    current = api(CorsConfiguration={"AllowOrigins": ["*"], "AllowHeaders": ["content-type"]})
    desired = m.build_desired(params(cors={"allow_origins": ["*"]}))
    assert m.api_changes(current, desired)["CorsConfiguration"]["AllowHeaders"] == []


def test_api_changes_only_for_managed_fields():
    current = api(Description="old", DisableExecuteApiEndpoint=True)
    assert m.api_changes(current, {"name": "clickstream-ingest"}) == {}
    assert m.api_changes(current, {"name": "renamed", "description": "new"}) == {
        "Name": "renamed",
        "Description": "new",
    }


def test_cors_removal_only_when_present():
    assert m.cors_removal_needed(api(CorsConfiguration={"AllowOrigins": ["*"]}), {"cors": None})
    assert not m.cors_removal_needed(api(), {"cors": None})
    assert not m.cors_removal_needed(api(CorsConfiguration={"AllowOrigins": ["*"]}), {})


# -- integrations ------------------------------------------------------------------


def integration(**fields):
    return integration_record(**fields)


def test_integration_unchanged_when_settings_match():
    spec = m.desired_integration({"uri": LAMBDA_ALIAS}, "i")
    assert m.integration_changes(integration(), spec) == {}
    assert m.integration_key(spec) == m.integration_key(m.integration_view(integration()))


def test_integration_changes_list_only_what_differs():
    spec = m.desired_integration({"uri": LAMBDA_ALIAS, "timeout_ms": 5000, "description": "x"}, "i")
    assert m.integration_changes(integration(PayloadFormatVersion="1.0"), spec) == {
        "PayloadFormatVersion": "2.0",
        "TimeoutInMillis": 5000,
        "Description": "x",
    }


def test_integration_create_request():
    spec = m.desired_integration(
        {"type": "HTTP_PROXY", "uri": "https://b.local", "method": "get"}, "i"
    )
    assert m.integration_create_request(spec) == {
        "IntegrationType": "HTTP_PROXY",
        "IntegrationUri": "https://b.local",
        "PayloadFormatVersion": "1.0",
        "TimeoutInMillis": 30000,
        "IntegrationMethod": "GET",
    }


# -- stages: the update_stage path moto cannot run ----------------------------------


def current_stage(**fields):
    return stage_record(
        '{"requestId": "$context.requestId", "status": "$context.status"}', **fields
    )


def stage_spec(**settings):
    defaults = {
        "throttling_burst_limit": 1000,
        "throttling_rate_limit": 500,
        "access_log": {
            "destination_arn": LOG_GROUP,
            "format": {"requestId": "$context.requestId", "status": "$context.status"},
        },
    }
    defaults.update(settings)
    return m.desired_stages([stage(**defaults)])["$default"]


def test_stage_in_sync_needs_no_update_even_with_different_json_spacing():
    assert m.stage_changes(current_stage(), stage_spec()) == ({}, False)


def test_throttling_change_sends_merged_default_route_settings():
    request, delete_log = m.stage_changes(current_stage(), stage_spec(throttling_rate_limit=250))
    assert request == {
        "DefaultRouteSettings": {
            "DetailedMetricsEnabled": False,
            "ThrottlingBurstLimit": 1000,
            "ThrottlingRateLimit": 250.0,
        }
    }
    assert delete_log is False


def test_websocket_only_route_settings_are_never_sent_back():
    stage = current_stage()
    stage["DefaultRouteSettings"].update({"DataTraceEnabled": False, "LoggingLevel": "OFF"})
    request, _ = m.stage_changes(stage, stage_spec(throttling_burst_limit=10))
    assert request["DefaultRouteSettings"] == {
        "DetailedMetricsEnabled": False,
        "ThrottlingBurstLimit": 10,
        "ThrottlingRateLimit": 500.0,
    }


def test_throttling_set_on_a_stage_that_had_none():
    request, _ = m.stage_changes(current_stage(DefaultRouteSettings={}), stage_spec())
    assert request["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 1000,
        "ThrottlingRateLimit": 500.0,
    }


def test_unmanaged_stage_settings_are_not_touched():
    spec = m.desired_stages([stage()])["$default"]  # only auto_deploy managed
    assert m.stage_changes(current_stage(Description="kept"), spec) == ({}, False)


def test_access_log_destination_or_format_change():
    other = LOG_GROUP + "-v2"
    request, _ = m.stage_changes(
        current_stage(), stage_spec(access_log={"destination_arn": other, "format": None})
    )
    assert request == {
        "AccessLogSettings": {"DestinationArn": other, "Format": m.DEFAULT_ACCESS_LOG_FORMAT}
    }


def test_access_log_disabled_deletes_settings():
    assert m.stage_changes(current_stage(), stage_spec(access_log={"enabled": False})) == (
        {},
        True,
    )
    assert m.stage_changes(
        current_stage(AccessLogSettings=None), stage_spec(access_log={"enabled": False})
    ) == ({}, False)


def test_auto_deploy_and_description_changes():
    request, _ = m.stage_changes(current_stage(), stage_spec(auto_deploy=False, description="d"))
    assert request == {"AutoDeploy": False, "Description": "d"}


def test_stage_create_request_carries_everything():
    spec = stage_spec(detailed_metrics_enabled=True, description="public")
    assert m.stage_create_request("$default", spec) == {
        "StageName": "$default",
        "AutoDeploy": True,
        "Description": "public",
        "DefaultRouteSettings": {
            "ThrottlingBurstLimit": 1000,
            "ThrottlingRateLimit": 500.0,
            "DetailedMetricsEnabled": True,
        },
        "AccessLogSettings": {
            "DestinationArn": LOG_GROUP,
            "Format": '{"requestId":"$context.requestId","status":"$context.status"}',
        },
    }


def test_same_log_format():
    assert m.same_log_format('{"a": 1}', '{"a":1}')
    assert not m.same_log_format('{"a": 1}', '{"a": 2}')
    assert m.same_log_format(
        "$context.requestId $context.status", "$context.requestId $context.status"
    )
    assert not m.same_log_format("$context.requestId", None)
    assert not m.same_log_format("$context.requestId", "$context.requestId ")


# -- the id-free view used for --diff ----------------------------------------------


def test_full_view_shows_routes_with_their_integration():
    view = m.full_view(
        api(Tags={"project": "clickstream"}),
        {"int1": integration()},
        {
            "POST /clickstream": {"RouteKey": "POST /clickstream", "Target": "integrations/int1"},
            "GET /other": {"RouteKey": "GET /other", "Target": "integrations/gone"},
        },
        {"$default": current_stage()},
    )
    assert view["routes"]["POST /clickstream"] == {
        "integration": {
            "type": "AWS_PROXY",
            "uri": LAMBDA_ALIAS,
            "payload_format_version": "2.0",
            "timeout_ms": 30000,
            "description": None,
        }
    }
    assert view["routes"]["GET /other"] == {"integration": None, "target": "integrations/gone"}
    assert view["stages"]["$default"]["throttling_burst_limit"] == 1000
    assert view["tags"] == {"project": "clickstream"}
    assert m.full_view(None, {}, {}, {}) == {}


def test_partition_for_region():
    assert m.partition_for("eu-west-1") == "aws"
    assert m.partition_for("cn-north-1") == "aws-cn"
    assert m.partition_for("us-gov-west-1") == "aws-us-gov"
