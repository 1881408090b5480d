"""playbooks/lambdas.yml against a moto server, as an operator runs it.

The AWS foundation the playbook expects (IAM roles, raw bucket, API access log
group, ETL subnet and security group) is created here with boto3 and handed
over as the facts playbooks/aws.yml would set. The zips are built into a
temporary folder; the ETL's dependency comes from a local wheelhouse (a test
wheel standing in for psycopg2-binary, so nothing leaves 127.0.0.1). moto
cannot invoke a Lambda without Docker, so nothing is invoked: the ingest path
is exercised through the local endpoint the playbook starts, which runs the
handler from the built zip against moto's S3.

The tests run in order and share one deployment: check mode on the empty
account, first run, second run,
check mode, a code change, a configuration change, then the endpoint stopped.
The later runs use --tags to leave out the HTTP API play, which the earlier
ones cover: each run costs 20-30 s of module start-ups on a loaded machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from ansible_moto import free_port
from lambda_build import package_function

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = "playbooks/lambdas.yml"
ACCOUNT = "123456789012"
REGION = "us-east-1"
INGEST = "clickstream-lambda-ingest"
ETL = "clickstream-lambda-etl"
API_NAME = "clickstream-http-api"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


class Lab:
    """The deployment under test: its extra vars, paths and AWS clients."""

    def __init__(self, moto, run_playbook, workdir: Path, wheelhouse: Path) -> None:
        self.moto = moto
        self.run_playbook = run_playbook
        self.workdir = workdir
        self.lam = moto.client("lambda")
        self.s3 = moto.client("s3")
        self.apigw = moto.client("apigatewayv2")
        # The ingest zip's packages, copied so a test can change the handler.
        self.ingest_src = workdir / "src"
        for package in ("clickstream_ingest", "clickstream_common"):
            shutil.copytree(
                PROJECT_ROOT / "src" / package,
                self.ingest_src / package,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        etl_requirements = workdir / "etl-requirements.txt"
        etl_requirements.write_text("cstest_native==1.0\n")
        self.build_dir = workdir / "build"
        self.state_dir = workdir / "state"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vars = {
            **self._foundation(),
            "lambda_package_build_dir": str(self.build_dir),
            "lambda_package_pip_cache_dir": str(workdir / "pip-cache"),
            "lambda_package_pip_extra_args": ["--no-index", "--find-links", str(wheelhouse)],
            "lambda_package_functions": [
                package_function("ingest", src=self.ingest_src),
                package_function("etl", etl_requirements),
            ],
            "ingest_endpoint_port": self.port,
            "ingest_endpoint_state_dir": str(self.state_dir),
        }

    def _foundation(self) -> dict:
        iam = self.moto.client("iam")
        arns = {
            name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))[
                "Role"
            ]["Arn"]
            for name in (INGEST, ETL)
        }
        for bucket in ("clickstream-raw-test", "clickstream-raw-moved"):
            self.s3.create_bucket(Bucket=bucket)
        logs = self.moto.client("logs")
        logs.create_log_group(logGroupName="/aws/apigateway/clickstream-http-api/access")
        group_arn = logs.describe_log_groups(
            logGroupNamePrefix="/aws/apigateway/clickstream-http-api/access"
        )["logGroups"][0]["arn"].removesuffix(":*")
        ec2 = self.moto.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.3.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(
            GroupName="clickstream-sg-etl-lambda", Description="ETL", VpcId=vpc
        )["GroupId"]
        return {
            "aws_iam_ingest_role_arn": arns[INGEST],
            "aws_iam_etl_role_arn": arns[ETL],
            "aws_storage_raw_bucket": "clickstream-raw-test",
            "aws_logs_api_access_log_group_arn": group_arn,
            "aws_network_etl_subnet_id": subnet,
            "aws_security_groups_etl_lambda_id": group,
            # The s3 sink here (the inventories' is firehose: the last tests
            # switch to it), so that objects are the handler's own.
            "ingest_sink": "s3",
            "aws_firehose_delivery_stream_name": "",
        }

    def run(self, *args: str, **more_vars):
        return self.run_playbook(PLAYBOOK, *args, extra_vars={**self.vars, **more_vars})

    def versions(self, function: str) -> list[str]:
        listed = self.lam.list_versions_by_function(FunctionName=function)["Versions"]
        return sorted((v["Version"] for v in listed if v["Version"] != "$LATEST"), key=int)

    def alias_version(self, function: str) -> str:
        return self.lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"]

    def pid(self) -> int:
        return int((self.state_dir / "ingest_endpoint.pid").read_text())

    def api(self) -> dict:
        apis = [a for a in self.apigw.get_apis()["Items"] if a["Name"] == API_NAME]
        assert len(apis) == 1, apis
        return apis[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose that matters here.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


def _code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def _explain(run) -> str:
    return (
        f"changed tasks: {run.changed_tasks()}\nstderr: {run.stderr[-3000:]}\n{run.stdout[-3000:]}"
    )


@pytest.fixture(scope="module")
def lab(moto, run_playbook, tmp_path_factory, wheelhouse):
    lab = Lab(moto, run_playbook, tmp_path_factory.mktemp("lambdas"), wheelhouse)
    lab.check_run = lab.run("--check")
    lab.after_check = {
        "functions": lab.lam.list_functions()["Functions"],
        "apis": lab.apigw.get_apis()["Items"],
        "zips": sorted(p.name for p in lab.build_dir.glob("*.zip")),
        "endpoint": (lab.state_dir / "ingest_endpoint.pid").exists(),
    }
    lab.first_run = lab.run()
    yield lab
    # Never leave the endpoint behind, whatever happened above.
    lab.run("--tags", "ingest_endpoint", ingest_endpoint_state="absent")
    pidfile = lab.state_dir / "ingest_endpoint.pid"
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_check_mode_on_an_empty_account_creates_nothing(lab):
    run = lab.check_run
    assert run.returncode == 0, _explain(run)
    assert run.changed > 0
    assert lab.after_check == {"functions": [], "apis": [], "zips": [], "endpoint": False}


def test_first_run_packages_publishes_and_serves(lab):
    run = lab.first_run
    assert run.returncode == 0, _explain(run)
    assert run.changed > 0
    ingest_zip = lab.build_dir / "ingest.zip"
    for function, zip_path, role, handler in (
        (INGEST, ingest_zip, "aws_iam_ingest_role_arn", "clickstream_ingest.handler.handler"),
        (ETL, lab.build_dir / "etl.zip", "aws_iam_etl_role_arn", "clickstream_etl.handler.handler"),
    ):
        config = lab.lam.get_function_configuration(FunctionName=function)
        assert config["Runtime"] == "python3.12"
        assert config["Architectures"] == ["arm64"]
        assert config["Handler"] == handler
        assert config["Role"] == lab.vars[role]
        assert config["CodeSha256"] == _code_sha256(zip_path)
        assert config["Environment"]["Variables"]["RAW_BUCKET_NAME"] == "clickstream-raw-test"
        assert lab.versions(function) == ["1"]
        assert lab.alias_version(function) == "1"
    ingest_environment = lab.lam.get_function_configuration(FunctionName=INGEST)["Environment"]
    assert ingest_environment["Variables"]["INGEST_SINK"] == "s3"
    assert "DELIVERY_STREAM_NAME" not in ingest_environment["Variables"]
    etl = lab.lam.get_function_configuration(FunctionName=ETL)
    assert etl["VpcConfig"]["SubnetIds"] == [lab.vars["aws_network_etl_subnet_id"]]
    assert etl["VpcConfig"]["SecurityGroupIds"] == [lab.vars["aws_security_groups_etl_lambda_id"]]
    assert (etl["MemorySize"], etl["Timeout"]) == (512, 300)
    assert etl["Environment"]["Variables"]["DW_PG_USER"] == "etl_writer"
    # The package report carries the size and Lambda's checksum.
    reports = lab.first_run.results("Build each Lambda zip")[0]["results"]
    by_name = {r["item"]["name"]: r for r in reports}
    assert by_name["ingest"]["code_sha256"] == _code_sha256(ingest_zip)
    assert by_name["ingest"]["size"] == ingest_zip.stat().st_size
    assert by_name["etl"]["dependencies"] == ["cstest_native==1.0"]
    assert _alive(lab.pid())


def test_second_run_changes_nothing(lab):
    pid = lab.pid()
    run = lab.run()
    assert run.returncode == 0, _explain(run)
    assert run.changed == 0, _explain(run)
    assert lab.versions(INGEST) == ["1"]
    assert lab.alias_version(INGEST) == "1"
    assert lab.pid() == pid, "the endpoint was restarted without a change"


def test_api_route_integration_stage_and_permission_read_back(lab):
    api = lab.api()
    api_id = api["ApiId"]
    alias_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{INGEST}:live"
    assert api["ProtocolType"] == "HTTP"
    assert api["CorsConfiguration"]["AllowOrigins"] == ["*"]
    assert sorted(api["CorsConfiguration"]["AllowMethods"]) == ["OPTIONS", "POST"]
    routes = lab.apigw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["POST /clickstream"]
    integrations = lab.apigw.get_integrations(ApiId=api_id)["Items"]
    assert len(integrations) == 1
    integration = integrations[0]
    assert routes[0]["Target"] == f"integrations/{integration['IntegrationId']}"
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == alias_arn
    assert integration["PayloadFormatVersion"] == "2.0"
    stages = lab.apigw.get_stages(ApiId=api_id)["Items"]
    assert [s["StageName"] for s in stages] == ["$default"]
    stage = stages[0]
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 1000
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 500
    assert (
        stage["AccessLogSettings"]["DestinationArn"]
        == (lab.vars["aws_logs_api_access_log_group_arn"])
    )
    assert "$context.requestId" in json.loads(stage["AccessLogSettings"]["Format"]).values()
    policy = json.loads(lab.lam.get_policy(FunctionName=INGEST, Qualifier="live")["Policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    grant = statements["clickstream-http-api-invoke"]
    assert grant["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert grant["Action"] == "lambda:InvokeFunction"
    assert grant["Resource"] == alias_arn
    source = grant["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/POST/clickstream"


def _stored_events(lab, bucket: str, before: datetime, after: datetime) -> list[dict]:
    """The objects of the hours between before and after (a request may straddle one)."""
    prefixes = {t.strftime("events/%Y/%m/%d/%H/") for t in (before, after)}
    found = []
    for prefix in sorted(prefixes):
        for item in lab.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            body = lab.s3.get_object(Bucket=bucket, Key=item["Key"])
            found.append(
                {"key": item["Key"], "type": body["ContentType"], **json.load(body["Body"])}
            )
    return found


def _post_event(lab, event_name: str) -> tuple[requests.Response, datetime, datetime]:
    before = datetime.now(UTC)
    response = requests.post(
        f"{lab.url}/clickstream",
        json={"eventName": event_name, "userId": "u-42", "product": {"id": "sku-1"}},
        headers={"User-Agent": "pytest-lambdas/1.0", "X-Amzn-Trace-Id": "Root=1-abc-def"},
        timeout=10,
    )
    return response, before, datetime.now(UTC)


def test_local_endpoint_stores_a_real_post_under_its_hour(lab):
    response, before, after = _post_event(lab, "product_view")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    stored = [
        e
        for e in _stored_events(lab, "clickstream-raw-test", before, after)
        if e["eventName"] == "product_view"
    ]
    assert len(stored) == 1
    event = stored[0]
    received = datetime.strptime(event["_ingest"]["receivedAt"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert event["key"].startswith(received.strftime("events/%Y/%m/%d/%H/event-"))
    assert event["type"] == "application/json"
    assert event["userId"] == "u-42"
    assert event["product"] == {"id": "sku-1"}
    ingest = event["_ingest"]
    assert ingest["sourceIp"] == "127.0.0.1"
    assert ingest["userAgent"] == "pytest-lambdas/1.0"
    assert ingest["traceId"] == "Root=1-abc-def"
    assert (ingest["method"], ingest["path"], ingest["stage"]) == (
        "POST",
        "/clickstream",
        "$default",
    )
    assert ingest["requestId"] == response.headers["apigw-requestid"]
    bad = requests.post(f"{lab.url}/clickstream", data="{not json", timeout=10)
    assert bad.status_code == 400


def test_check_mode_reports_a_code_change_and_writes_nothing(lab):
    handler = lab.ingest_src / "clickstream_ingest" / "handler.py"
    handler.write_text(handler.read_text() + "\n# release 2\n")
    zip_before = (lab.build_dir / "ingest.zip").read_bytes()
    run = lab.run("--check", "--diff")
    assert run.returncode == 0, _explain(run)
    changed = run.changed_tasks()
    for task in (
        "lambda_package : Build each Lambda zip (only when its inputs changed)",
        f"lambda_function : Create or update the function: {INGEST}",
        f"lambda_function : Publish a version if the code or configuration changed: {INGEST}",
        "ingest_endpoint : Keep a copy of the package the endpoint runs",
    ):
        assert task in changed, _explain(run)
    assert f"lambda_function : Create or update the function: {ETL}" not in changed
    assert (lab.build_dir / "ingest.zip").read_bytes() == zip_before
    assert lab.versions(INGEST) == ["1"]
    assert lab.alias_version(INGEST) == "1"


def test_a_code_change_moves_the_alias_and_restarts_the_endpoint(lab):
    pid = lab.pid()
    # The handler change of the previous test; the API does not change.
    run = lab.run("--tags", "lambdas,ingest_endpoint")
    assert run.returncode == 0, _explain(run)
    assert lab.versions(INGEST) == ["1", "2"]
    assert lab.alias_version(INGEST) == "2"
    assert lab.lam.get_function_configuration(FunctionName=INGEST, Qualifier="2")[
        "CodeSha256"
    ] == _code_sha256(lab.build_dir / "ingest.zip")
    assert lab.versions(ETL) == ["1"], "the ETL did not change"
    assert lab.alias_version(ETL) == "1"
    new_pid = lab.pid()
    assert new_pid != pid
    assert not _alive(pid)
    unpacked = lab.state_dir / "ingest_endpoint" / "package" / "clickstream_ingest" / "handler.py"
    assert unpacked.read_text().endswith("# release 2\n")
    response, _before, _after = _post_event(lab, "page_view")
    assert response.status_code == 200, response.text


def test_a_configuration_change_moves_the_aliases_and_then_nothing_changes(lab):
    pid = lab.pid()
    run = lab.run(
        "--tags", "lambdas,ingest_endpoint", aws_storage_raw_bucket="clickstream-raw-moved"
    )
    assert run.returncode == 0, _explain(run)
    for function, version in ((INGEST, "3"), (ETL, "2")):
        assert lab.alias_version(function) == version
        config = lab.lam.get_function_configuration(FunctionName=function, Qualifier="live")
        assert config["Environment"]["Variables"]["RAW_BUCKET_NAME"] == "clickstream-raw-moved"
    assert lab.pid() != pid, "new settings must restart the endpoint"
    response, before, after = _post_event(lab, "add_to_cart_click")
    assert response.status_code == 200, response.text
    moved = _stored_events(lab, "clickstream-raw-moved", before, after)
    assert [e["eventName"] for e in moved] == ["add_to_cart_click"]

    again = lab.run(
        "--tags", "lambdas,ingest_endpoint", aws_storage_raw_bucket="clickstream-raw-moved"
    )
    assert again.returncode == 0, _explain(again)
    assert again.changed == 0, _explain(again)
    assert lab.versions(INGEST) == ["1", "2", "3"]


def test_the_firehose_sink_reaches_the_bucket_through_the_delivery_stream(lab):
    """With ingest_sink=firehose the function and the endpoint get INGEST_SINK and
    DELIVERY_STREAM_NAME; a POST goes through moto's Firehose, which writes the
    request's records at once as one object under events/YYYY/MM/DD/HH/ (the
    hour the ETL lists), named after the stream."""
    stream = "clickstream-test-events"
    lab.moto.client("firehose").create_delivery_stream(
        DeliveryStreamName=stream,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/clickstream-firehose",
            "BucketARN": "arn:aws:s3:::clickstream-raw-test",
            "Prefix": "events/",
        },
    )
    run = lab.run(
        "--tags",
        "lambdas,ingest_endpoint",
        ingest_sink="firehose",
        aws_firehose_delivery_stream_name=stream,
    )
    assert run.returncode == 0, _explain(run)
    variables = lab.lam.get_function_configuration(FunctionName=INGEST)["Environment"]["Variables"]
    assert (variables["INGEST_SINK"], variables["DELIVERY_STREAM_NAME"]) == ("firehose", stream)
    response, before, after = _post_event(lab, "firehose_probe")
    assert response.status_code == 200, response.text
    stored = [
        e
        for e in _stored_events(lab, "clickstream-raw-test", before, after)
        if e["eventName"] == "firehose_probe"
    ]
    assert len(stored) == 1
    received = datetime.strptime(stored[0]["_ingest"]["receivedAt"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert stored[0]["key"].startswith(received.strftime(f"events/%Y/%m/%d/%H/{stream}-"))


def test_stopping_the_endpoint_leaves_no_process(lab):
    pid = lab.pid()
    run = lab.run("--tags", "ingest_endpoint", ingest_endpoint_state="absent")
    assert run.returncode == 0, _explain(run)
    assert "ingest_endpoint : Stop the endpoint" in run.changed_tasks()
    deadline = time.monotonic() + 5  # the process is reaped by init after it exits
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    assert not (lab.state_dir / "ingest_endpoint.pid").exists()
    assert not (lab.state_dir / "ingest_endpoint").exists()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{lab.url}/clickstream", json={"eventName": "x"}, timeout=5)
    again = lab.run("--tags", "ingest_endpoint", ingest_endpoint_state="absent")
    assert again.returncode == 0, _explain(again)
    assert again.changed == 0, _explain(again)
