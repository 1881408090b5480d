#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: apigatewayv2_http_api
short_description: Manage an API Gateway v2 HTTP API with its routes, integrations and stages
version_added: 1.0.0
description:
  - Creates, updates and deletes an Amazon API Gateway v2 B(HTTP) API, together with its
    routes, the integrations they target (Lambda proxy or HTTP proxy) and its stages.
  - The API is found by O(api_id) when given, otherwise by its O(name). Two or more HTTP
    APIs with the same name is an error that lists their ids; set O(api_id) to pick one.
  - Integrations are recognised by their type and target URI. Routes that name the same
    backend share one integration; with O(purge_routes=true) an integration that no route
    targets any more is deleted.
  - Only what differs from the current state is changed. Check mode makes no writing call
    and reports what would change; with C(--diff) the before and after state is shown,
    routes listing the integration they reach.
  - A stage with O(stages[].auto_deploy=false) gets a new deployment whenever routes or
    integrations changed, and when it is created. Stages with auto-deploy are deployed by
    API Gateway itself.
  - All AWS calls are retried with jittered back-off on throttling and transient errors.
author:
  - Clickstream platform team
options:
  state:
    description:
      - V(present) creates or updates the API; V(absent) deletes it with everything it holds.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - The API's name. Required with O(state=present). With O(api_id) set, the API is
        renamed to O(name) when they differ.
    type: str
  api_id:
    description:
      - The id of an existing HTTP API to manage, instead of finding it by O(name).
      - With O(state=absent), an O(api_id) that does not exist is not an error.
    type: str
  description:
    description:
      - The API's description. Left unchanged when not set.
    type: str
  disable_execute_api_endpoint:
    description:
      - Turn off the default C(execute-api) endpoint (when a custom domain is used).
        Left unchanged when not set.
    type: bool
  cors:
    description:
      - The API's CORS configuration, managed as a whole. Left unchanged when not set.
      - Methods are compared case-insensitively, headers in lower case, lists without regard
        to order, as API Gateway stores them.
    type: dict
    suboptions:
      enabled:
        description:
          - V(false) removes the CORS configuration; the other keys are then ignored.
        type: bool
        default: true
      allow_origins:
        description:
          - Origins allowed to call the API, for example V(https://shop.example.com) or V(*).
        type: list
        elements: str
      allow_methods:
        description: HTTP methods allowed, or V(*).
        type: list
        elements: str
      allow_headers:
        description: Request headers allowed, or V(*).
        type: list
        elements: str
      expose_headers:
        description: Response headers exposed to the browser.
        type: list
        elements: str
      max_age:
        description: Seconds a browser may cache the preflight response (-1 to 86400).
        type: int
      allow_credentials:
        description:
          - Allow credentials (cookies, authorization headers). Not allowed together with the
            V(*) origin.
        type: bool
        default: false
  routes:
    description:
      - The API's routes, each with the integration it targets. Left unchanged when not set.
    type: list
    elements: dict
    suboptions:
      route_key:
        description:
          - V($default) or C(<METHOD> /path), for example V(POST /clickstream).
        type: str
        required: true
      integration:
        description: The backend the route sends requests to.
        type: dict
        required: true
        suboptions:
          type:
            description:
              - V(AWS_PROXY) for a Lambda function, V(HTTP_PROXY) for an HTTP URL.
            type: str
            choices: [AWS_PROXY, HTTP_PROXY]
            default: AWS_PROXY
          uri:
            description:
              - For V(AWS_PROXY), the Lambda function or alias ARN (an alias ARN such as
                C(arn:aws:lambda:eu-west-1:123456789012:function:ingest:live) lets the alias
                move without touching the API). For V(HTTP_PROXY), the URL.
            type: str
            required: true
          payload_format_version:
            description:
              - The event format Lambda receives. Defaults to V(2.0) for V(AWS_PROXY);
                V(HTTP_PROXY) only supports V(1.0).
            type: str
            choices: ['1.0', '2.0']
          timeout_ms:
            description: Integration timeout in milliseconds (50 to 30000).
            type: int
            default: 30000
          method:
            description: HTTP method used to call an V(HTTP_PROXY) backend (default V(ANY)).
            type: str
          description:
            description: The integration's description. Left unchanged when not set.
            type: str
  purge_routes:
    description:
      - With O(routes) set, delete routes that are not listed and integrations that no
        route targets any more.
    type: bool
    default: true
  stages:
    description:
      - The API's stages. Left unchanged when not set.
    type: list
    elements: dict
    suboptions:
      name:
        description: The stage name; V($default) serves the API at its root URL.
        type: str
        default: $default
      auto_deploy:
        description: Deploy every change to the API to this stage automatically.
        type: bool
        default: true
      description:
        description: The stage's description. Left unchanged when not set.
        type: str
      throttling_burst_limit:
        description:
          - Default route throttling, burst (requests). Left unchanged when not set.
        type: int
      throttling_rate_limit:
        description:
          - Default route throttling, steady rate (requests per second). Left unchanged when
            not set.
        type: float
      detailed_metrics_enabled:
        description: Per-route CloudWatch metrics. Left unchanged when not set.
        type: bool
      access_log:
        description:
          - Access logging to a CloudWatch Logs log group. Left unchanged when not set.
        type: dict
        suboptions:
          enabled:
            description: V(false) turns access logging off; the other keys are then ignored.
            type: bool
            default: true
          destination_arn:
            description:
              - The log group's ARN. A trailing C(:*), as M(amazon.aws.cloudwatchlogs_log_group)
                returns it, is removed.
            type: str
          format:
            description:
              - The log line format, a string or a dict (sent as compact JSON). It must contain
                C($context.requestId).
              - Defaults to a JSON line with requestId, requestTime, ip, userAgent, httpMethod,
                routeKey, path, status, protocol, responseLength, integrationStatus,
                integrationLatency, integrationError and error.
              - Compared as JSON values when both sides are JSON, so key spacing does not
                cause changes.
            type: raw
  purge_stages:
    description:
      - With O(stages) set, delete stages that are not listed.
    type: bool
    default: true
notes:
  - API Gateway allows one B($default) stage per API; with auto-deploy it serves every change
    at the API endpoint itself.
  - >-
    The Lambda permission that lets the API invoke the function is not managed here;
    use M(amazon.aws.lambda_policy) with RV(api.execution_arn).
  - >-
    Connection settings (O(endpoint_url), O(region), credentials) are the ones every
    amazon.aws module takes. ansible-core's C(group/aws) for C(module_defaults) is fixed to
    amazon.aws and community.aws; this collection's C(group/clickstream.aws.aws) contains this
    module B(and) both of those groups, so one C(module_defaults) entry serves every AWS task.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Publish the ingest Lambda behind an HTTP API
  clickstream.aws.apigatewayv2_http_api:
    name: clickstream-ingest
    description: Clickstream ingest endpoint
    cors:
      allow_origins: ["https://shop.example.com"]
      allow_methods: [POST, OPTIONS]
      allow_headers: [content-type, x-amzn-trace-id]
      max_age: 300
    routes:
      - route_key: POST /clickstream
        integration:
          uri: "{{ ingest_alias.alias_arn }}"
          payload_format_version: "2.0"
    stages:
      - name: $default
        auto_deploy: true
        throttling_burst_limit: 1000
        throttling_rate_limit: 500
        access_log:
          destination_arn: "{{ ingest_api_log_group.arn }}"
          format:
            requestId: $context.requestId
            ip: $context.identity.sourceIp
            routeKey: $context.routeKey
            status: $context.status
    tags:
      project: clickstream
  register: ingest_api

- name: Let the API invoke the alias
  amazon.aws.lambda_policy:
    function_name: clickstream-ingest
    alias: live
    statement_id: apigateway-clickstream
    action: lambda:InvokeFunction
    principal: apigateway.amazonaws.com
    source_arn: "{{ ingest_api.api.execution_arn }}/*/*/clickstream"

- name: One module_defaults entry for amazon.aws, community.aws and clickstream.aws (the lab)
  module_defaults:
    group/clickstream.aws.aws:
      endpoint_url: http://127.0.0.1:5000
      region: eu-west-1
      access_key: testing
      secret_key: testing
  block:
    - name: Same API against the lab's moto server
      clickstream.aws.apigatewayv2_http_api:
        name: clickstream-ingest

- name: Delete the API with its routes, integrations and stages
  clickstream.aws.apigatewayv2_http_api:
    name: clickstream-ingest
    state: absent
"""

RETURN = r"""
api:
  description: The API after the task (empty when it was deleted). Ids are null in check mode
    for an API that would be created.
  returned: always
  type: dict
  contains:
    api_id:
      description: The API id.
      type: str
      sample: a1b2c3d4e5
    api_endpoint:
      description: The default endpoint URL.
      type: str
      sample: https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com
    execution_arn:
      description: The ARN to use as C(source_arn) prefix in Lambda permissions.
      type: str
      sample: arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5
    name:
      description: The API name.
      type: str
      sample: clickstream-ingest
    description:
      description: The API description.
      type: str
    protocol_type:
      description: Always C(HTTP).
      type: str
    disable_execute_api_endpoint:
      description: Whether the default endpoint is turned off.
      type: bool
    cors_configuration:
      description: CORS settings, normalised (sorted, methods upper case, headers lower case).
      type: dict
      sample:
        allow_origins: ["https://shop.example.com"]
        allow_methods: [OPTIONS, POST]
        allow_headers: [content-type]
        expose_headers: []
        max_age: 300
        allow_credentials: false
    tags:
      description: The API's tags.
      type: dict
integrations:
  description: The API's integrations.
  returned: always
  type: list
  elements: dict
  contains:
    integration_id:
      description: The integration id (null in check mode when it would be created).
      type: str
    type:
      description: C(AWS_PROXY) or C(HTTP_PROXY).
      type: str
    uri:
      description: The Lambda ARN or URL.
      type: str
    payload_format_version:
      description: C(1.0) or C(2.0).
      type: str
    timeout_ms:
      description: The timeout in milliseconds.
      type: int
    description:
      description: The integration's description.
      type: str
routes:
  description: The API's routes.
  returned: always
  type: list
  elements: dict
  contains:
    route_id:
      description: The route id (null in check mode when it would be created).
      type: str
    route_key:
      description: The route key.
      type: str
      sample: POST /clickstream
    integration_id:
      description: The id of the integration the route targets.
      type: str
    target:
      description: The route's target, C(integrations/<integration_id>).
      type: str
stages:
  description: The API's stages.
  returned: always
  type: list
  elements: dict
  contains:
    stage_name:
      description: The stage name.
      type: str
      sample: $default
    invoke_url:
      description: The URL that serves this stage.
      type: str
    auto_deploy:
      description: Whether changes are deployed automatically.
      type: bool
    description:
      description: The stage's description.
      type: str
    throttling_burst_limit:
      description: Default route burst limit.
      type: int
      sample: 1000
    throttling_rate_limit:
      description: Default route rate limit (requests per second).
      type: float
      sample: 500.0
    detailed_metrics_enabled:
      description: Whether per-route metrics are on.
      type: bool
    access_log:
      description: C(destination_arn) and C(format) of access logging, or null when off.
      type: dict
operations:
  description: The writing API calls made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: [create_api, create_integration, create_route, create_stage]
"""

import contextlib

from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.clickstream.aws.plugins.module_utils.apigatewayv2 import (
    HttpApiError,
    HttpApiManager,
    build_desired,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError

_INTEGRATION_OPTIONS = {
    "type": {"type": "str", "choices": ["AWS_PROXY", "HTTP_PROXY"], "default": "AWS_PROXY"},
    "uri": {"type": "str", "required": True},
    "payload_format_version": {"type": "str", "choices": ["1.0", "2.0"]},
    "timeout_ms": {"type": "int", "default": 30000},
    "method": {"type": "str"},
    "description": {"type": "str"},
}

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "name": {"type": "str"},
    "api_id": {"type": "str"},
    "description": {"type": "str"},
    "disable_execute_api_endpoint": {"type": "bool"},
    "cors": {
        "type": "dict",
        "options": {
            "enabled": {"type": "bool", "default": True},
            "allow_origins": {"type": "list", "elements": "str"},
            "allow_methods": {"type": "list", "elements": "str"},
            "allow_headers": {"type": "list", "elements": "str"},
            "expose_headers": {"type": "list", "elements": "str"},
            "max_age": {"type": "int"},
            "allow_credentials": {"type": "bool", "default": False},
        },
    },
    "routes": {
        "type": "list",
        "elements": "dict",
        "options": {
            "route_key": {"type": "str", "required": True},
            "integration": {"type": "dict", "required": True, "options": _INTEGRATION_OPTIONS},
        },
    },
    "purge_routes": {"type": "bool", "default": True},
    "stages": {
        "type": "list",
        "elements": "dict",
        "options": {
            "name": {"type": "str", "default": "$default"},
            "auto_deploy": {"type": "bool", "default": True},
            "description": {"type": "str"},
            "throttling_burst_limit": {"type": "int"},
            "throttling_rate_limit": {"type": "float"},
            "detailed_metrics_enabled": {"type": "bool"},
            "access_log": {
                "type": "dict",
                "options": {
                    "enabled": {"type": "bool", "default": True},
                    "destination_arn": {"type": "str"},
                    "format": {"type": "raw"},
                },
            },
        },
    },
    "purge_stages": {"type": "bool", "default": True},
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
}


def main():
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ["name"])],
        required_one_of=[("name", "api_id")],
        supports_check_mode=True,
    )
    params = module.params
    client = module.client("apigatewayv2", retry_decorator=AWSRetry.jittered_backoff())
    manager = HttpApiManager(client, region=module.region, check_mode=module.check_mode)
    try:
        desired = build_desired(params) if params["state"] == "present" else None
        manager.load(name=params["name"], api_id=params["api_id"])
        before = manager.view()
        if desired is None:
            manager.ensure_absent()
        else:
            manager.ensure_present(desired)
        after = manager.view()
        result = manager.result()
        if result["api"].get("api_id"):
            account, partition = get_aws_account_info(module)
            result["api"]["execution_arn"] = (
                f"arn:{partition}:execute-api:{module.region}:{account}:{result['api']['api_id']}"
            )
    except HttpApiError as e:
        module.fail_json(msg=str(e), operations=manager.operations)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"API Gateway call failed after {manager.operations or 'no'} writes",
            operations=manager.operations,
        )

    output = dict(changed=manager.changed, operations=manager.operations, **result)
    if module._diff:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
