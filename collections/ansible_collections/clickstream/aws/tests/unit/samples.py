"""AWS records (as boto3 returns them) shared by the unit tests."""

LAMBDA_ALIAS = "arn:aws:lambda:eu-west-1:123456789012:function:clickstream-ingest:live"
LOG_GROUP = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/apigateway/clickstream"


def integration_record(**fields):
    """A Lambda proxy integration on the live alias, payload 2.0."""
    return {
        "IntegrationId": "int1",
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": LAMBDA_ALIAS,
        "IntegrationMethod": "POST",
        "PayloadFormatVersion": "2.0",
        "TimeoutInMillis": 30000,
        **fields,
    }


def stage_record(fmt, **fields):
    """The $default stage with auto-deploy, 1000/500 throttling and access logs in fmt."""
    return {
        "StageName": "$default",
        "AutoDeploy": True,
        "DefaultRouteSettings": {
            "DetailedMetricsEnabled": False,
            "ThrottlingBurstLimit": 1000,
            "ThrottlingRateLimit": 500.0,
        },
        "AccessLogSettings": {"DestinationArn": LOG_GROUP, "Format": fmt},
        **fields,
    }
