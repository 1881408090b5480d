# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state, comparison and AWS calls for API Gateway v2 HTTP APIs.

The module ``clickstream.aws.apigatewayv2_http_api`` is a thin shell around
this file. Everything that decides *what* to do is a plain function of plain
dicts (``build_desired``, ``*_view``, ``*_changes``), so it is tested without
AWS; ``HttpApiManager`` only reads the current state, asks those functions what
differs and makes the calls (or, in check mode, applies the same request to an
in-memory copy so that the predicted result is computed by the same code).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

ROUTE_METHODS = ("ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_ROUTE_KEY_RE = re.compile(r"^(?:\$default|(?:" + "|".join(ROUTE_METHODS) + r") /\S*)$")
_STAGE_NAME_RE = re.compile(r"^(?:\$default|[A-Za-z0-9_-]{1,128})$")
_LOG_GROUP_ARN_RE = re.compile(r"^arn:[a-z-]+:logs:[a-z0-9-]+:\d{12}:log-group:[^:*]+$")
_LAMBDA_ARN_RE = re.compile(r"^arn:[a-z-]+:(?:lambda|apigateway):[a-z0-9-]+:")

# A JSON access-log line per request: what an operator greps for first.
DEFAULT_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationStatus": "$context.integrationStatus",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "error": "$context.error.message",
    },
    separators=(",", ":"),
)

# Used in check mode for resources that would be created: never sent to AWS,
# reported as null.
_PLACEHOLDER_PREFIX = "(new)"


class HttpApiError(Exception):
    """A bad argument or an ambiguous AWS state: reported to the user as is."""


# --------------------------------------------------------------------------
# Desired state from module parameters (validation lives here too)
# --------------------------------------------------------------------------


def build_desired(params: dict[str, Any]) -> dict[str, Any]:
    """Turn module parameters into a desired-state dict.

    Only the keys the user manages are present: a key that is missing means
    "leave whatever AWS has". Raises HttpApiError on invalid input.
    """
    name = params.get("name")
    if not name:
        raise HttpApiError("name is required when state=present")
    desired: dict[str, Any] = {"name": name}
    if params.get("description") is not None:
        desired["description"] = params["description"]
    if params.get("disable_execute_api_endpoint") is not None:
        desired["disable_execute_api_endpoint"] = bool(params["disable_execute_api_endpoint"])
    if params.get("cors") is not None:
        desired["cors"] = desired_cors(params["cors"])
    if params.get("tags") is not None:
        desired["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
        desired["purge_tags"] = bool(params.get("purge_tags", True))
    if params.get("routes") is not None:
        desired["routes"] = desired_routes(params["routes"])
        desired["purge_routes"] = bool(params.get("purge_routes", True))
    if params.get("stages") is not None:
        desired["stages"] = desired_stages(params["stages"])
        desired["purge_stages"] = bool(params.get("purge_stages", True))
    return desired


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list):
        raise HttpApiError(f"{what} must be a list of strings")
    if any(not isinstance(v, str) or not v for v in value):
        raise HttpApiError(f"{what} must contain non-empty strings only")
    return list(value)


def desired_cors(cors: dict[str, Any]) -> dict[str, Any] | None:
    """Canonical CORS settings, or None when CORS must be removed."""
    if cors.get("enabled") is False:
        return None
    origins = _str_list(cors.get("allow_origins"), "cors.allow_origins")
    methods = _str_list(cors.get("allow_methods"), "cors.allow_methods")
    allowed = (*ROUTE_METHODS, "*")
    bad = [m for m in methods if m.upper() not in allowed]
    if bad:
        raise HttpApiError(
            f"cors.allow_methods has unknown methods {bad}; use {', '.join(allowed)}"
        )
    max_age = cors.get("max_age")
    if max_age is not None and not -1 <= int(max_age) <= 86400:
        raise HttpApiError(f"cors.max_age must be between -1 and 86400 seconds, got {max_age}")
    allow_credentials = bool(cors.get("allow_credentials") or False)
    if allow_credentials and "*" in origins:
        raise HttpApiError(
            "cors.allow_credentials cannot be true while cors.allow_origins contains '*': "
            "list the origins explicitly"
        )
    return normalize_cors(
        {
            "AllowOrigins": origins,
            "AllowMethods": methods,
            "AllowHeaders": _str_list(cors.get("allow_headers"), "cors.allow_headers"),
            "ExposeHeaders": _str_list(cors.get("expose_headers"), "cors.expose_headers"),
            "MaxAge": None if max_age is None else int(max_age),
            "AllowCredentials": allow_credentials,
        }
    )


def desired_routes(routes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Route key -> canonical integration spec."""
    result: dict[str, dict[str, Any]] = {}
    for index, route in enumerate(routes):
        key = route.get("route_key")
        if not key or not _ROUTE_KEY_RE.match(key):
            raise HttpApiError(
                f"routes[{index}].route_key {key!r} is not a route key: use '$default' or "
                f"'<METHOD> /path' with METHOD one of {', '.join(ROUTE_METHODS)}"
            )
        if key in result:
            raise HttpApiError(f"route_key {key!r} is listed twice in routes")
        integration = route.get("integration")
        if not integration:
            raise HttpApiError(f"routes[{index}] ({key}) needs an integration")
        result[key] = desired_integration(integration, f"routes[{index}].integration")
    # Routes that name the same backend share one integration, so they must
    # agree on its settings.
    seen: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for key, spec in result.items():
        ikey = integration_key(spec)
        if ikey in seen and seen[ikey][1] != spec:
            raise HttpApiError(
                f"routes {seen[ikey][0]!r} and {key!r} use the same integration "
                f"({ikey[0]} {ikey[1]}) with different settings; make them identical"
            )
        seen.setdefault(ikey, (key, spec))
    return result


def desired_integration(integration: dict[str, Any], where: str) -> dict[str, Any]:
    itype = integration.get("type") or "AWS_PROXY"
    uri = integration.get("uri")
    if not uri:
        raise HttpApiError(f"{where}.uri is required")
    version = integration.get("payload_format_version")
    timeout = integration.get("timeout_ms")
    timeout = 30000 if timeout is None else int(timeout)
    if not 50 <= timeout <= 30000:
        raise HttpApiError(f"{where}.timeout_ms must be between 50 and 30000, got {timeout}")
    spec: dict[str, Any] = {"type": itype, "uri": uri}
    if itype == "AWS_PROXY":
        if not _LAMBDA_ARN_RE.match(uri):
            raise HttpApiError(
                f"{where}.uri {uri!r} is not a Lambda function or alias ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>[:<alias>])"
            )
        version = version or "2.0"
        if version not in ("1.0", "2.0"):
            raise HttpApiError(f"{where}.payload_format_version must be '1.0' or '2.0'")
        if integration.get("method"):
            raise HttpApiError(f"{where}.method only applies to HTTP_PROXY integrations")
    elif itype == "HTTP_PROXY":
        if not re.match(r"^https?://", uri):
            raise HttpApiError(f"{where}.uri {uri!r} must be an http:// or https:// URL")
        version = version or "1.0"
        if version != "1.0":
            raise HttpApiError(f"{where}: HTTP_PROXY integrations only support payload 1.0")
        method = (integration.get("method") or "ANY").upper()
        if method not in ROUTE_METHODS:
            raise HttpApiError(f"{where}.method must be one of {', '.join(ROUTE_METHODS)}")
        spec["method"] = method
    else:
        raise HttpApiError(f"{where}.type must be AWS_PROXY or HTTP_PROXY, got {itype!r}")
    spec["payload_format_version"] = version
    spec["timeout_ms"] = timeout
    if integration.get("description") is not None:
        spec["description"] = integration["description"]
    return spec


def desired_stages(stages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stage name -> canonical stage settings (only managed keys)."""
    result: dict[str, dict[str, Any]] = {}
    for index, stage in enumerate(stages):
        name = stage.get("name") or "$default"
        if not _STAGE_NAME_RE.match(name):
            raise HttpApiError(
                f"stages[{index}].name {name!r} must be '$default' or 1-128 letters, "
                "digits, '-' or '_'"
            )
        if name in result:
            raise HttpApiError(f"stage {name!r} is listed twice in stages")
        spec: dict[str, Any] = {"auto_deploy": bool(stage.get("auto_deploy", True))}
        if stage.get("description") is not None:
            spec["description"] = stage["description"]
        burst = stage.get("throttling_burst_limit")
        if burst is not None:
            if int(burst) < 0:
                raise HttpApiError(f"stages[{index}].throttling_burst_limit must be >= 0")
            spec["throttling_burst_limit"] = int(burst)
        rate = stage.get("throttling_rate_limit")
        if rate is not None:
            if float(rate) < 0:
                raise HttpApiError(f"stages[{index}].throttling_rate_limit must be >= 0")
            spec["throttling_rate_limit"] = float(rate)
        if stage.get("detailed_metrics_enabled") is not None:
            spec["detailed_metrics_enabled"] = bool(stage["detailed_metrics_enabled"])
        if stage.get("access_log") is not None:
            spec["access_log"] = desired_access_log(stage["access_log"], f"stages[{index}]")
        result[name] = spec
    return result


def desired_access_log(access_log: dict[str, Any], where: str) -> dict[str, str] | None:
    """Canonical access-log settings, or None when access logging must be off."""
    if access_log.get("enabled") is False:
        return None
    arn = access_log.get("destination_arn")
    if not arn:
        raise HttpApiError(f"{where}.access_log.destination_arn is required")
    # cloudwatchlogs_log_group returns the ARN with a trailing ':*'; API Gateway
    # wants the log group itself.
    if arn.endswith(":*"):
        arn = arn[:-2]
    if not _LOG_GROUP_ARN_RE.match(arn):
        raise HttpApiError(
            f"{where}.access_log.destination_arn {arn!r} is not a CloudWatch Logs log group ARN "
            "(arn:aws:logs:<region>:<account>:log-group:<name>)"
        )
    fmt = access_log.get("format")
    if fmt is None:
        fmt = DEFAULT_ACCESS_LOG_FORMAT
    elif isinstance(fmt, dict):
        fmt = json.dumps(fmt, separators=(",", ":"))
    elif not isinstance(fmt, str) or not fmt.strip():
        raise HttpApiError(f"{where}.access_log.format must be a non-empty string or a dict")
    if "$context.requestId" not in fmt and "$context.extendedRequestId" not in fmt:
        raise HttpApiError(
            f"{where}.access_log.format must include $context.requestId "
            "(API Gateway rejects formats without it)"
        )
    return {"destination_arn": arn, "format": fmt}


# --------------------------------------------------------------------------
# Canonical views of what AWS returns, and comparisons
# --------------------------------------------------------------------------


def normalize_cors(cors: dict[str, Any] | None) -> dict[str, Any] | None:
    """Compare-friendly CORS: sorted, methods upper case, headers lower case."""
    if not cors:
        return None
    return {
        "allow_origins": sorted(cors.get("AllowOrigins") or []),
        "allow_methods": sorted({m.upper() for m in cors.get("AllowMethods") or []}),
        "allow_headers": sorted({h.lower() for h in cors.get("AllowHeaders") or []}),
        "expose_headers": sorted({h.lower() for h in cors.get("ExposeHeaders") or []}),
        "max_age": cors.get("MaxAge"),
        "allow_credentials": bool(cors.get("AllowCredentials") or False),
    }


def cors_request(cors: dict[str, Any]) -> dict[str, Any]:
    """The CorsConfiguration request structure for canonical CORS settings.

    Every list and AllowCredentials is sent, empty or false included, so the
    result is the same whether UpdateApi replaces or merges the configuration.
    """
    request: dict[str, Any] = {
        "AllowOrigins": list(cors["allow_origins"]),
        "AllowMethods": list(cors["allow_methods"]),
        "AllowHeaders": list(cors["allow_headers"]),
        "ExposeHeaders": list(cors["expose_headers"]),
        "AllowCredentials": cors["allow_credentials"],
    }
    if cors["max_age"] is not None:
        request["MaxAge"] = cors["max_age"]
    return request


def _differing(
    view: dict[str, Any], wanted: dict[str, Any], fields: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """Request entries for the managed fields whose wanted value differs from the view."""
    return {
        aws: wanted[key] for key, aws in fields if key in wanted and view.get(key) != wanted[key]
    }


def api_view(api: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": api.get("Name"),
        "description": api.get("Description"),
        "disable_execute_api_endpoint": bool(api.get("DisableExecuteApiEndpoint", False)),
        "cors": normalize_cors(api.get("CorsConfiguration")),
        "tags": dict(api.get("Tags") or {}),
    }


def api_changes(api: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """Arguments for update_api (without ApiId); empty when nothing differs.

    CORS removal is not an update_api argument: see cors_removal_needed.
    """
    view = api_view(api)
    request = _differing(
        view,
        desired,
        (
            ("name", "Name"),
            ("description", "Description"),
            ("disable_execute_api_endpoint", "DisableExecuteApiEndpoint"),
        ),
    )
    if desired.get("cors") is not None and view["cors"] != desired["cors"]:
        request["CorsConfiguration"] = cors_request(desired["cors"])
    return request


def cors_removal_needed(api: dict[str, Any], desired: dict[str, Any]) -> bool:
    return "cors" in desired and desired["cors"] is None and api_view(api)["cors"] is not None


def integration_key(spec_or_view: dict[str, Any]) -> tuple[str, str]:
    """How an integration is recognised: its type and its target URI."""
    return (spec_or_view["type"], spec_or_view["uri"])


def integration_view(integration: dict[str, Any]) -> dict[str, Any]:
    view = {
        "type": integration.get("IntegrationType"),
        "uri": integration.get("IntegrationUri"),
        "payload_format_version": integration.get("PayloadFormatVersion"),
        "timeout_ms": integration.get("TimeoutInMillis"),
        "description": integration.get("Description"),
    }
    if view["type"] == "HTTP_PROXY":
        view["method"] = integration.get("IntegrationMethod")
    return view


def integration_create_request(spec: dict[str, Any]) -> dict[str, Any]:
    request = {
        "IntegrationType": spec["type"],
        "IntegrationUri": spec["uri"],
        "PayloadFormatVersion": spec["payload_format_version"],
        "TimeoutInMillis": spec["timeout_ms"],
    }
    if "method" in spec:
        request["IntegrationMethod"] = spec["method"]
    if "description" in spec:
        request["Description"] = spec["description"]
    return request


def integration_changes(integration: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Arguments for update_integration (without ids); empty when nothing differs."""
    return _differing(
        integration_view(integration),
        spec,
        (
            ("payload_format_version", "PayloadFormatVersion"),
            ("timeout_ms", "TimeoutInMillis"),
            ("description", "Description"),
            ("method", "IntegrationMethod"),
        ),
    )


def target_integration_id(route: dict[str, Any]) -> str | None:
    target = route.get("Target") or ""
    return target[len("integrations/") :] if target.startswith("integrations/") else None


def same_log_format(a: str | None, b: str | None) -> bool:
    """Formats are equal as text or, when both are JSON, as JSON values."""
    if a == b:
        return True
    if a is None or b is None:
        return False
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return False


def stage_view(stage: dict[str, Any]) -> dict[str, Any]:
    drs = stage.get("DefaultRouteSettings") or {}
    als = stage.get("AccessLogSettings") or {}
    return {
        "auto_deploy": bool(stage.get("AutoDeploy", False)),
        "description": stage.get("Description"),
        "throttling_burst_limit": drs.get("ThrottlingBurstLimit"),
        "throttling_rate_limit": drs.get("ThrottlingRateLimit"),
        "detailed_metrics_enabled": bool(drs.get("DetailedMetricsEnabled", False)),
        "access_log": (
            {"destination_arn": als.get("DestinationArn"), "format": als.get("Format")}
            if als.get("DestinationArn")
            else None
        ),
    }


_ROUTE_SETTING_KEYS = (
    ("throttling_burst_limit", "ThrottlingBurstLimit"),
    ("throttling_rate_limit", "ThrottlingRateLimit"),
    ("detailed_metrics_enabled", "DetailedMetricsEnabled"),
)


def _access_log_request(access_log: dict[str, str]) -> dict[str, str]:
    return {"DestinationArn": access_log["destination_arn"], "Format": access_log["format"]}


def stage_create_request(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"StageName": name, "AutoDeploy": spec["auto_deploy"]}
    if "description" in spec:
        request["Description"] = spec["description"]
    route_settings = {aws: spec[key] for key, aws in _ROUTE_SETTING_KEYS if key in spec}
    if route_settings:
        request["DefaultRouteSettings"] = route_settings
    if spec.get("access_log"):
        request["AccessLogSettings"] = _access_log_request(spec["access_log"])
    return request


def stage_changes(stage: dict[str, Any], spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """What update_stage must send (without ids), and whether access logs must go.

    DefaultRouteSettings is replaced as a whole by UpdateStage, so when any of
    its managed keys differs the request carries the merged settings.
    """
    view = stage_view(stage)
    request = _differing(
        view, spec, (("auto_deploy", "AutoDeploy"), ("description", "Description"))
    )
    differs = False
    for key, _aws in _ROUTE_SETTING_KEYS:
        if key not in spec:
            continue
        current = view[key]
        if key == "throttling_rate_limit":
            differs |= current is None or float(current) != spec[key]
        else:
            differs |= current != spec[key]
    if differs:
        # Only the HTTP API keys: DataTraceEnabled and LoggingLevel are WebSocket-only.
        current = stage.get("DefaultRouteSettings") or {}
        merged = {aws: current[aws] for _key, aws in _ROUTE_SETTING_KEYS if aws in current}
        merged.update({aws: spec[key] for key, aws in _ROUTE_SETTING_KEYS if key in spec})
        request["DefaultRouteSettings"] = merged
    delete_access_log = False
    if "access_log" in spec:
        want, have = spec["access_log"], view["access_log"]
        if want is None:
            delete_access_log = have is not None
        elif (
            have is None
            or have["destination_arn"] != want["destination_arn"]
            or not same_log_format(have["format"], want["format"])
        ):
            request["AccessLogSettings"] = _access_log_request(want)
    return request, delete_access_log


def full_view(
    api: dict[str, Any] | None,
    integrations: dict[str, dict[str, Any]],
    routes: dict[str, dict[str, Any]],
    stages: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The id-free picture used for diff: routes show the integration they reach."""
    if api is None:
        return {}
    view = api_view(api)
    view["routes"] = {}
    for key in sorted(routes):
        iid = target_integration_id(routes[key])
        integ = integrations.get(iid) if iid else None
        if integ:
            view["routes"][key] = {"integration": integration_view(integ)}
        else:  # a target this module does not manage (or a dangling one)
            view["routes"][key] = {"integration": None, "target": routes[key].get("Target")}
    view["stages"] = {name: stage_view(stages[name]) for name in sorted(stages)}
    return view


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _public_id(value: str | None) -> str | None:
    return None if value is None or value.startswith(_PLACEHOLDER_PREFIX) else value


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# --------------------------------------------------------------------------
# AWS calls
# --------------------------------------------------------------------------


@AWSRetry.jittered_backoff()
def _paginate(client: Any, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    paginator = client.get_paginator(operation)
    return paginator.paginate(**kwargs).build_full_result().get("Items", [])


class HttpApiManager:
    """Reads one HTTP API with its integrations, routes and stages, and converges it.

    ``client`` is an apigatewayv2 client wrapped by amazon.aws's
    RetryingBotoClientWrapper (what ``AnsibleAWSModule.client(...,
    retry_decorator=...)`` returns), so every call passes ``aws_retry=True``.
    """

    def __init__(self, client: Any, region: str, check_mode: bool = False) -> None:
        self.client = client
        self.region = region
        self.check_mode = check_mode
        self.changed = False
        self.operations: list[str] = []
        self._placeholders = 0
        self.api: dict[str, Any] | None = None
        self.integrations: dict[str, dict[str, Any]] = {}
        self.routes: dict[str, dict[str, Any]] = {}
        self.stages: dict[str, dict[str, Any]] = {}

    # -- reading -----------------------------------------------------------

    def find_api(self, name: str | None = None, api_id: str | None = None) -> dict | None:
        if api_id:
            try:
                api = _strip(self.client.get_api(ApiId=api_id, aws_retry=True))
            except is_boto3_error_code("NotFoundException"):
                return None
            if api.get("ProtocolType") != "HTTP":
                raise HttpApiError(f"API {api_id} is a {api.get('ProtocolType')} API, not HTTP")
            return api
        matches = [
            api
            for api in _paginate(self.client, "get_apis")
            if api.get("Name") == name and api.get("ProtocolType") == "HTTP"
        ]
        if len(matches) > 1:
            ids = ", ".join(sorted(api["ApiId"] for api in matches))
            raise HttpApiError(
                f"{len(matches)} HTTP APIs are named {name!r} ({ids}); set api_id to pick one "
                "or delete the extra APIs"
            )
        return matches[0] if matches else None

    def load(self, name: str | None = None, api_id: str | None = None) -> None:
        self.api = self.find_api(name=name, api_id=api_id)
        self.integrations, self.routes, self.stages = {}, {}, {}
        if self.api is None:
            return
        aid = self.api["ApiId"]
        for item in _paginate(self.client, "get_integrations", ApiId=aid):
            self.integrations[item["IntegrationId"]] = item
        for item in _paginate(self.client, "get_routes", ApiId=aid):
            self.routes[item["RouteKey"]] = item
        for item in _paginate(self.client, "get_stages", ApiId=aid):
            self.stages[item["StageName"]] = item

    def view(self) -> dict[str, Any]:
        return full_view(self.api, self.integrations, self.routes, self.stages)

    # -- writing -----------------------------------------------------------

    def _placeholder(self) -> str:
        self._placeholders += 1
        return f"{_PLACEHOLDER_PREFIX}{self._placeholders}"

    def _write(self, operation: str, simulated: dict[str, Any] | None, **kwargs: Any) -> dict:
        """Call a writing operation, or in check mode return what it would return."""
        self.changed = True
        self.operations.append(operation)
        if self.check_mode:
            return simulated or {}
        return _strip(getattr(self.client, operation)(aws_retry=True, **kwargs))

    @property
    def _api_id(self) -> str:
        if self.api is None:  # a programming error, not a user error
            raise RuntimeError("no API loaded or created yet")
        return self.api["ApiId"]

    def ensure_present(self, desired: dict[str, Any]) -> None:
        self._ensure_api(desired)
        routes_changed = False
        if "routes" in desired:
            routes_changed = self._ensure_routes(desired["routes"], desired["purge_routes"])
        if "stages" in desired:
            self._ensure_stages(desired["stages"], desired["purge_stages"], routes_changed)
        elif routes_changed:
            self._deploy_manual_stages(set(self.stages))

    def ensure_absent(self) -> None:
        if self.api is not None:
            self._write("delete_api", None, ApiId=self._api_id)
            self.api, self.integrations, self.routes, self.stages = None, {}, {}, {}

    def _ensure_api(self, desired: dict[str, Any]) -> None:
        if self.api is None:
            request: dict[str, Any] = {"Name": desired["name"], "ProtocolType": "HTTP"}
            if "description" in desired:
                request["Description"] = desired["description"]
            if "disable_execute_api_endpoint" in desired:
                request["DisableExecuteApiEndpoint"] = desired["disable_execute_api_endpoint"]
            if desired.get("cors"):
                request["CorsConfiguration"] = cors_request(desired["cors"])
            if desired.get("tags"):
                request["Tags"] = desired["tags"]
            simulated = {"ApiId": self._placeholder(), "ApiEndpoint": None, **request}
            self.api = self._write("create_api", simulated, **request)
            return
        update = api_changes(self.api, desired)
        if update:
            simulated = {**self.api, **update}
            response = self._write("update_api", simulated, ApiId=self._api_id, **update)
            self.api = {**self.api, **response}
        if cors_removal_needed(self.api, desired):
            self._write("delete_cors_configuration", None, ApiId=self._api_id)
            self.api = {k: v for k, v in self.api.items() if k != "CorsConfiguration"}
        if "tags" in desired:
            self._ensure_tags(desired["tags"], desired["purge_tags"])

    def _ensure_tags(self, tags: dict[str, str], purge: bool) -> None:
        arn = f"arn:{partition_for(self.region)}:apigateway:{self.region}::/apis/{self._api_id}"
        current = dict(self.api.get("Tags") or {})
        to_set, to_unset = compare_aws_tags(current, tags, purge_tags=purge)
        if to_unset:
            self._write("untag_resource", None, ResourceArn=arn, TagKeys=to_unset)
        if to_set:
            self._write("tag_resource", None, ResourceArn=arn, Tags=to_set)
        for key in to_unset:
            current.pop(key, None)
        current.update(to_set)
        self.api["Tags"] = current

    def _pick_integration(self, ikey: tuple[str, str], route_keys: list[str]) -> str | None:
        """The existing integration to reuse for ikey: the one its routes use now, if any."""
        candidates = [
            iid
            for iid, integ in self.integrations.items()
            if integration_key(integration_view(integ)) == ikey
        ]
        for key in route_keys:
            current = target_integration_id(self.routes.get(key, {}))
            if current in candidates:
                return current
        return sorted(candidates)[0] if candidates else None

    def _ensure_routes(self, routes: dict[str, dict[str, Any]], purge: bool) -> bool:
        before = len(self.operations)
        by_integration: dict[tuple[str, str], list[str]] = {}
        for key, spec in routes.items():
            by_integration.setdefault(integration_key(spec), []).append(key)
        chosen: dict[tuple[str, str], str] = {}
        for ikey, keys in by_integration.items():
            spec = routes[keys[0]]
            iid = self._pick_integration(ikey, keys)
            if iid is None:
                request = integration_create_request(spec)
                simulated = {"IntegrationId": self._placeholder(), **request}
                integ = self._write("create_integration", simulated, ApiId=self._api_id, **request)
                iid = integ["IntegrationId"]
                self.integrations[iid] = integ
            else:
                update = integration_changes(self.integrations[iid], spec)
                if update:
                    simulated = {**self.integrations[iid], **update}
                    response = self._write(
                        "update_integration",
                        simulated,
                        ApiId=self._api_id,
                        IntegrationId=iid,
                        **update,
                    )
                    self.integrations[iid] = {**self.integrations[iid], **response}
            chosen[ikey] = iid
        for key, spec in routes.items():
            target = f"integrations/{chosen[integration_key(spec)]}"
            route = self.routes.get(key)
            if route is None:
                simulated = {"RouteId": self._placeholder(), "RouteKey": key, "Target": target}
                self.routes[key] = self._write(
                    "create_route", simulated, ApiId=self._api_id, RouteKey=key, Target=target
                )
            elif route.get("Target") != target:
                response = self._write(
                    "update_route",
                    {**route, "Target": target},
                    ApiId=self._api_id,
                    RouteId=route["RouteId"],
                    Target=target,
                )
                self.routes[key] = {**route, **response}
        if purge:
            for key in sorted(set(self.routes) - set(routes)):
                route = self.routes.pop(key)
                self._write("delete_route", None, ApiId=self._api_id, RouteId=route["RouteId"])
            targeted = {target_integration_id(route) for route in self.routes.values()}
            for iid in sorted(set(self.integrations) - targeted):
                self._write("delete_integration", None, ApiId=self._api_id, IntegrationId=iid)
                del self.integrations[iid]
        return len(self.operations) > before

    def _ensure_stages(
        self, stages: dict[str, dict[str, Any]], purge: bool, routes_changed: bool
    ) -> None:
        created: set[str] = set()
        for name, spec in stages.items():
            stage = self.stages.get(name)
            if stage is None:
                request = stage_create_request(name, spec)
                self.stages[name] = self._write(
                    "create_stage", dict(request), ApiId=self._api_id, **request
                )
                created.add(name)
                continue
            update, delete_access_log = stage_changes(stage, spec)
            if update:
                response = self._write(
                    "update_stage",
                    {**stage, **update},
                    ApiId=self._api_id,
                    StageName=name,
                    **update,
                )
                self.stages[name] = {**stage, **response}
            if delete_access_log:
                self._write("delete_access_log_settings", None, ApiId=self._api_id, StageName=name)
                self.stages[name] = {
                    k: v for k, v in self.stages[name].items() if k != "AccessLogSettings"
                }
        if purge:
            for name in sorted(set(self.stages) - set(stages)):
                self._write("delete_stage", None, ApiId=self._api_id, StageName=name)
                del self.stages[name]
        self._deploy_manual_stages(created | (set(self.stages) if routes_changed else set()))

    def _deploy_manual_stages(self, names: set[str]) -> None:
        """Stages without auto-deploy only serve what a deployment put there."""
        for name in sorted(names):
            if not self.stages[name].get("AutoDeploy"):
                self._write(
                    "create_deployment",
                    None,
                    ApiId=self._api_id,
                    StageName=name,
                    Description="Deployed by clickstream.aws.apigatewayv2_http_api",
                )

    # -- results -----------------------------------------------------------

    def result(self) -> dict[str, Any]:
        """Module return values (ids of resources still to be created are null)."""
        if self.api is None:
            return {"api": {}, "integrations": [], "routes": [], "stages": []}
        endpoint = self.api.get("ApiEndpoint")
        api = {
            "api_id": _public_id(self.api.get("ApiId")),
            "api_endpoint": endpoint,
            "name": self.api.get("Name"),
            "description": self.api.get("Description"),
            "protocol_type": "HTTP",
            "disable_execute_api_endpoint": bool(self.api.get("DisableExecuteApiEndpoint")),
            "cors_configuration": normalize_cors(self.api.get("CorsConfiguration")),
            "tags": dict(self.api.get("Tags") or {}),
        }
        integrations = [
            {"integration_id": _public_id(iid), **integration_view(integ)}
            for iid, integ in sorted(self.integrations.items())
        ]
        routes = []
        for key in sorted(self.routes):
            route = self.routes[key]
            iid = _public_id(target_integration_id(route))
            routes.append(
                {
                    "route_id": _public_id(route.get("RouteId")),
                    "route_key": key,
                    "integration_id": iid,
                    "target": f"integrations/{iid}" if iid else None,
                }
            )
        stages = []
        for name in sorted(self.stages):
            invoke_url = None
            if endpoint:
                invoke_url = endpoint if name == "$default" else f"{endpoint}/{name}"
            stages.append(
                {"stage_name": name, "invoke_url": invoke_url, **stage_view(self.stages[name])}
            )
        return {"api": api, "integrations": integrations, "routes": routes, "stages": stages}
