"""playbooks/aws.yml against a fresh moto server, read back with boto3.

The tests run in file order on the session's deployment (conftest.py,
``deployed_foundation``): apply, apply again (nothing may change), --check
(nothing would change), read every resource back, refuse an open CIDR,
switch the sink to s3 and back.
test_layer_tags.py runs each layer alone on it next; test_teardown.py tears
it down last.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest

from ansible_moto import published_facts

pytestmark = pytest.mark.integration

PROJECT = "clickstream"
ACCOUNT = "123456789012"
REGION = "us-east-1"
RAW = f"{PROJECT}-raw-{ACCOUNT}-{REGION}"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}-{REGION}"
SSM = f"{PROJECT}-ssm-{ACCOUNT}-{REGION}"
BUCKETS = (RAW, ARTIFACTS, SSM)
NEWEST_DEBIAN_AMD64 = "ami-0de12a0000000a002"  # see roles/lab/files/debian12_amis.json
LOGS_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group"
STREAM = f"{PROJECT}-events"  # the inventory's clickstream_delivery_stream_name
STREAM_ARN = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{STREAM}"
FIREHOSE_LOG_GROUP = f"/aws/kinesisfirehose/{STREAM}"


# --------------------------------------------------------------------- runs


def test_first_run_is_clean(deployed_foundation):
    run = deployed_foundation
    assert run.returncode == 0, run.failure_messages() or run.stderr[-3000:]
    assert run.total("failures") == 0
    assert run.total("unreachable") == 0
    assert run.total("changed") > 0
    assert run.warnings() == []


def test_second_run_changes_nothing(deployed_foundation, run_aws):
    run = run_aws()
    assert run.returncode == 0, run.failure_messages()
    assert run.total("changed") == 0, run.changed_tasks()
    assert run.warnings() == []


def test_check_mode_reports_no_changes(deployed_foundation, run_aws):
    run = run_aws("--check")
    assert run.returncode == 0, run.failure_messages()
    assert run.total("changed") == 0, run.changed_tasks()


# ------------------------------------------------------------------ network


@pytest.fixture(scope="module")
def vpc(deployed_foundation, aws):
    vpcs = aws("ec2").describe_vpcs(Filters=[{"Name": "tag:Project", "Values": [PROJECT]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


def _by_name(items):
    return {_tags(item)["Name"]: item for item in items if "Name" in _tags(item)}


def _tags(resource) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def test_vpc_cidr_dns_and_tags(vpc, aws):
    ec2 = aws("ec2")
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert _tags(vpc) == {"Name": f"{PROJECT}-vpc", "Project": PROJECT}
    for attribute, key in (
        ("enableDnsSupport", "EnableDnsSupport"),
        ("enableDnsHostnames", "EnableDnsHostnames"),
    ):
        answer = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
        assert answer[key]["Value"] is True, attribute


def test_subnets(vpc, aws):
    subnets = aws("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"
    ]
    got = {
        _tags(s)["Name"]: (s["CidrBlock"], s["AvailabilityZone"], s["MapPublicIpOnLaunch"])
        for s in subnets
    }
    assert got == {
        f"{PROJECT}-public-oltp": ("10.0.1.0/24", "us-east-1a", False),
        f"{PROJECT}-private-analytics": ("10.0.2.0/24", "us-east-1a", False),
        f"{PROJECT}-private-etl": ("10.0.3.0/24", "us-east-1a", False),
    }


@pytest.fixture(scope="module")
def network(vpc, aws):
    """Ids of everything in the VPC, by name."""
    ec2 = aws("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    igws = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
    )
    endpoints = ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"]
    prefix_lists = ec2.describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}]
    )["PrefixLists"]
    return {
        "subnets": {
            name: s["SubnetId"]
            for name, s in _by_name(ec2.describe_subnets(Filters=in_vpc)["Subnets"]).items()
        },
        "route_tables": ec2.describe_route_tables(Filters=in_vpc)["RouteTables"],
        "igws": igws["InternetGateways"],
        "endpoints": endpoints,
        "s3_prefix_list": prefix_lists[0]["PrefixListId"],
        "groups": ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"],
    }


def test_internet_gateway_attached(network, vpc):
    assert len(network["igws"]) == 1
    igw = network["igws"][0]
    assert [a["VpcId"] for a in igw["Attachments"]] == [vpc["VpcId"]]
    assert _tags(igw)["Project"] == PROJECT


def _route_set(table):
    routes = set()
    for route in table["Routes"]:
        destination = route.get("DestinationCidrBlock") or route.get("DestinationPrefixListId")
        routes.add((destination, route["GatewayId"]))
    return routes


def test_route_tables_routes_and_associations(network):
    subnets = network["subnets"]
    igw_id = network["igws"][0]["InternetGatewayId"]
    s3_endpoint = next(e for e in network["endpoints"] if e["VpcEndpointType"] == "Gateway")
    s3_route = (network["s3_prefix_list"], s3_endpoint["VpcEndpointId"])
    local = ("10.0.0.0/16", "local")
    tables = _by_name(network["route_tables"])
    expected = {
        f"{PROJECT}-public-rt": ({local, ("0.0.0.0/0", igw_id)}, subnets[f"{PROJECT}-public-oltp"]),
        f"{PROJECT}-private-analytics-rt": (
            {local, s3_route},
            subnets[f"{PROJECT}-private-analytics"],
        ),
        f"{PROJECT}-private-etl-rt": ({local, s3_route}, subnets[f"{PROJECT}-private-etl"]),
    }
    assert set(tables) == set(expected)
    for name, (routes, subnet_id) in expected.items():
        table = tables[name]
        assert _route_set(table) == routes, name
        associated = [a["SubnetId"] for a in table["Associations"] if not a.get("Main")]
        assert associated == [subnet_id], name
    # The VPC's main table serves no subnet and routes nowhere but the VPC.
    main = [t for t in network["route_tables"] if any(a.get("Main") for a in t["Associations"])]
    assert len(main) == 1
    assert _route_set(main[0]) == {local}
    assert [a for a in main[0]["Associations"] if a.get("SubnetId")] == []


def test_no_private_route_leads_to_the_internet(network):
    for table in network["route_tables"]:
        name = _tags(table).get("Name", "main")
        if "public" in name:
            continue
        assert all(r.get("DestinationCidrBlock") != "0.0.0.0/0" for r in table["Routes"]), name


def test_s3_gateway_endpoint_and_policy(network):
    tables = _by_name(network["route_tables"])
    gateways = [e for e in network["endpoints"] if e["VpcEndpointType"] == "Gateway"]
    assert len(gateways) == 1
    endpoint = gateways[0]
    assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.s3"
    assert set(endpoint["RouteTableIds"]) == {
        tables[f"{PROJECT}-private-analytics-rt"]["RouteTableId"],
        tables[f"{PROJECT}-private-etl-rt"]["RouteTableId"],
    }
    policy = json.loads(endpoint["PolicyDocument"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {"ProjectBuckets", "SsmAgentPackages"}
    project = statements["ProjectBuckets"]
    assert (project["Effect"], project["Principal"]) == ("Allow", "*")
    assert set(project["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert set(project["Resource"]) == {f"arn:aws:s3:::{b}" for b in BUCKETS} | {
        f"arn:aws:s3:::{b}/*" for b in BUCKETS
    }
    agent = statements["SsmAgentPackages"]
    assert (agent["Effect"], agent["Principal"], agent["Action"]) == (
        "Allow",
        "*",
        ["s3:GetObject"],
    )
    assert agent["Resource"] == [f"arn:aws:s3:::amazon-ssm-{REGION}/*"]
    assert "Condition" not in project
    assert "Condition" not in agent


def test_ssm_interface_endpoints(network):
    subnet = network["subnets"][f"{PROJECT}-private-analytics"]
    groups = {g["GroupName"]: g["GroupId"] for g in network["groups"]}
    interfaces = {
        e["ServiceName"]: e for e in network["endpoints"] if e["VpcEndpointType"] == "Interface"
    }
    assert set(interfaces) == {
        f"com.amazonaws.{REGION}.{s}" for s in ("ssm", "ssmmessages", "ec2messages")
    }
    for endpoint in interfaces.values():
        assert endpoint["SubnetIds"] == [subnet]
        assert [g["GroupId"] for g in endpoint["Groups"]] == [groups[f"{PROJECT}-vpc-endpoints"]]
        assert endpoint["PrivateDnsEnabled"] is True


# ----------------------------------------------------------- security groups


def _rule_pairs(group, id_to_name):
    """Every (direction, protocol, from, to, peer) a group allows."""
    pairs = Counter()
    for direction, key in (("in", "IpPermissions"), ("out", "IpPermissionsEgress")):
        for perm in group[key]:
            ports = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
            for ip_range in perm.get("IpRanges", []):
                pairs[(direction, *ports, ip_range["CidrIp"])] += 1
            for ip_range in perm.get("Ipv6Ranges", []):
                pairs[(direction, *ports, ip_range["CidrIpv6"])] += 1
            for pair in perm.get("UserIdGroupPairs", []):
                pairs[(direction, *ports, "sg:" + id_to_name[pair["GroupId"]])] += 1
            for prefix in perm.get("PrefixListIds", []):
                pairs[(direction, *ports, prefix["PrefixListId"])] += 1
    return pairs


def test_security_group_rule_pairs_and_nothing_else(network):
    id_to_name = {g["GroupId"]: g["GroupName"] for g in network["groups"]}
    got = {g["GroupName"]: _rule_pairs(g, id_to_name) for g in network["groups"]}
    sg = {name: f"sg:{PROJECT}-sg-{name}" for name in ("oltp", "dw", "shiny", "etl-lambda")}
    s3 = network["s3_prefix_list"]
    expected = {
        "default": Counter(),
        f"{PROJECT}-vpc-endpoints": Counter(
            {("in", "tcp", 443, 443, "10.0.2.0/24"): 1, ("in", "tcp", 443, 443, "10.0.1.0/24"): 1}
        ),
        f"{PROJECT}-sg-oltp": Counter(
            {
                ("in", "tcp", 5432, 5432, "203.0.113.0/24"): 1,
                ("in", "tcp", 5432, 5432, "198.51.100.7/32"): 1,
                ("in", "tcp", 22, 22, "192.0.2.10/32"): 1,
                ("in", "tcp", 3142, 3142, sg["dw"]): 1,
                ("out", "-1", None, None, "0.0.0.0/0"): 1,
            }
        ),
        f"{PROJECT}-sg-dw": Counter(
            {
                ("in", "tcp", 5432, 5432, sg["etl-lambda"]): 1,
                ("in", "tcp", 5432, 5432, sg["shiny"]): 1,
                ("out", "-1", None, None, "0.0.0.0/0"): 1,
            }
        ),
        f"{PROJECT}-sg-shiny": Counter(
            {
                ("in", "tcp", 3838, 3838, "10.8.0.0/16"): 1,
                ("out", "tcp", 5432, 5432, sg["dw"]): 1,
            }
        ),
        f"{PROJECT}-sg-etl-lambda": Counter(
            {
                ("out", "tcp", 5432, 5432, sg["dw"]): 1,
                ("out", "tcp", 443, 443, s3): 1,
            }
        ),
    }
    assert got == expected


def test_no_inbound_rule_is_open_to_the_internet(network):
    for group in network["groups"]:
        for perm in group["IpPermissions"]:
            assert all(r["CidrIp"] != "0.0.0.0/0" for r in perm.get("IpRanges", [])), group[
                "GroupName"
            ]
            assert all(r["CidrIpv6"] != "::/0" for r in perm.get("Ipv6Ranges", [])), group[
                "GroupName"
            ]


# ------------------------------------------------------------------ buckets

TLS_ONLY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_hardening(deployed_foundation, aws, bucket):
    s3 = aws("s3")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert len(policy["Statement"]) == 1
    statement = dict(policy["Statement"][0])
    assert sorted(statement.pop("Resource")) == [
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
    ]
    assert statement == TLS_ONLY
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["Project"] == PROJECT


@pytest.mark.parametrize(("bucket", "versioned"), [(RAW, False), (ARTIFACTS, True), (SSM, False)])
def test_bucket_versioning(deployed_foundation, aws, bucket, versioned):
    status = aws("s3").get_bucket_versioning(Bucket=bucket).get("Status")
    assert (status == "Enabled") is versioned


def test_bucket_lifecycle_rules(deployed_foundation, aws):
    s3 = aws("s3")

    def only_rule(bucket):
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert len(rules) == 1, rules
        return rules[0]

    raw = only_rule(RAW)
    assert raw["ID"] == "raw-events-tiering-and-expiry"
    assert raw["Status"] == "Enabled"
    assert raw["Filter"] == {"Prefix": "events/"}
    assert raw["Transitions"] == [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    assert raw["Expiration"] == {"Days": 365}
    assert raw["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert raw["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30

    artifacts = only_rule(ARTIFACTS)
    assert artifacts["Filter"] == {"Prefix": ""}
    assert "Expiration" not in artifacts
    assert "Transitions" not in artifacts
    assert artifacts["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert artifacts["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30

    ssm = only_rule(SSM)
    assert ssm["Filter"] == {"Prefix": ""}
    assert ssm["Expiration"] == {"Days": 1}


# ---------------------------------------------------------------------- IAM


def _statements(document) -> dict[str, dict]:
    """Statements by Sid, with Action and Resource as sets."""
    if isinstance(document, str):
        document = json.loads(document)
    assert document["Version"] == "2012-10-17"
    result = {}
    for statement in document["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        result[statement["Sid"]] = {
            "Effect": statement["Effect"],
            "Action": {actions} if isinstance(actions, str) else set(actions),
            "Resource": {resources} if isinstance(resources, str) else set(resources),
            "Condition": statement.get("Condition"),
        }
    return result


def _inline_policies(iam, role):
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in names
    }


def _trusted_service(iam, role):
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    (statement,) = trust["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
    return statement["Principal"]["Service"]


def _managed(iam, role):
    return {
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    }


def test_ingest_role_can_only_put_into_the_delivery_stream_and_log(deployed_foundation, aws):
    """The inventories' sink is firehose: one stream, no S3 access (s3: the end of this file)."""
    iam = aws("iam")
    role = f"{PROJECT}-lambda-ingest"
    assert _trusted_service(iam, role) == "lambda.amazonaws.com"
    assert _managed(iam, role) == set()
    policies = _inline_policies(iam, role)
    assert set(policies) == {f"{PROJECT}-least-privilege"}
    assert _statements(policies[f"{PROJECT}-least-privilege"]) == {
        "PutRecordsIntoDeliveryStream": {
            "Effect": "Allow",
            "Action": {"firehose:PutRecordBatch"},
            "Resource": {STREAM_ARN},
            "Condition": None,
        },
        "WriteOwnLogs": {
            "Effect": "Allow",
            "Action": {"logs:CreateLogStream", "logs:PutLogEvents"},
            "Resource": {f"{LOGS_ARN}:/aws/lambda/{PROJECT}-lambda-ingest:*"},
            "Condition": None,
        },
    }


def test_firehose_role_delivers_under_its_prefixes_and_logs_its_errors(deployed_foundation, aws):
    iam = aws("iam")
    role = f"{PROJECT}-firehose"
    assert _trusted_service(iam, role) == "firehose.amazonaws.com"
    assert _managed(iam, role) == set()
    policies = _inline_policies(iam, role)
    assert set(policies) == {f"{PROJECT}-least-privilege"}
    assert _statements(policies[f"{PROJECT}-least-privilege"]) == {
        "DeliverRawEvents": {
            "Effect": "Allow",
            "Action": {"s3:AbortMultipartUpload", "s3:PutObject"},
            "Resource": {f"arn:aws:s3:::{RAW}/events/*", f"arn:aws:s3:::{RAW}/errors/*"},
            "Condition": None,
        },
        "FindRawBucket": {
            "Effect": "Allow",
            "Action": {"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"},
            "Resource": {f"arn:aws:s3:::{RAW}"},
            "Condition": None,
        },
        "LogDeliveryErrors": {
            "Effect": "Allow",
            "Action": {"logs:PutLogEvents"},
            "Resource": {f"{LOGS_ARN}:{FIREHOSE_LOG_GROUP}:log-stream:S3Delivery"},
            "Condition": None,
        },
    }


def test_etl_role_reads_events_runs_in_vpc_and_logs(deployed_foundation, aws):
    iam = aws("iam")
    role = f"{PROJECT}-lambda-etl"
    assert _trusted_service(iam, role) == "lambda.amazonaws.com"
    assert _managed(iam, role) == set()
    policies = _inline_policies(iam, role)
    assert set(policies) == {f"{PROJECT}-least-privilege"}
    assert _statements(policies[f"{PROJECT}-least-privilege"]) == {
        "ListRawEvents": {
            "Effect": "Allow",
            "Action": {"s3:ListBucket"},
            "Resource": {f"arn:aws:s3:::{RAW}"},
            "Condition": {"StringLike": {"s3:prefix": ["events/*"]}},
        },
        "ReadRawEvents": {
            "Effect": "Allow",
            "Action": {"s3:GetObject"},
            "Resource": {f"arn:aws:s3:::{RAW}/events/*"},
            "Condition": None,
        },
        "LambdaVpcNetworkInterfaces": {
            "Effect": "Allow",
            "Action": {
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            },
            "Resource": {"*"},
            "Condition": None,
        },
        "WriteOwnLogs": {
            "Effect": "Allow",
            "Action": {"logs:CreateLogStream", "logs:PutLogEvents"},
            "Resource": {f"{LOGS_ARN}:/aws/lambda/{PROJECT}-lambda-etl:*"},
            "Condition": None,
        },
    }


def test_dw_instance_role_writes_backups_only_and_has_ssm(deployed_foundation, aws):
    iam = aws("iam")
    role = f"{PROJECT}-dw-instance"
    assert _trusted_service(iam, role) == "ec2.amazonaws.com"
    assert _managed(iam, role) == {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    policies = _inline_policies(iam, role)
    assert _statements(policies[f"{PROJECT}-least-privilege"]) == {
        "WriteBackups": {
            "Effect": "Allow",
            "Action": {"s3:PutObject", "s3:AbortMultipartUpload"},
            "Resource": {f"arn:aws:s3:::{ARTIFACTS}/backups/dw/*"},
            "Condition": None,
        },
    }
    profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role]


def test_oltp_instance_role_has_ssm_only(deployed_foundation, aws):
    iam = aws("iam")
    role = f"{PROJECT}-oltp-instance"
    assert _trusted_service(iam, role) == "ec2.amazonaws.com"
    assert _managed(iam, role) == {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    assert _inline_policies(iam, role) == {}
    profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role]


def test_no_wildcard_action_and_star_resource_only_for_lambda_vpc(deployed_foundation, aws):
    iam = aws("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PROJECT)]
    assert len(roles) == 5
    for role in roles:
        for document in _inline_policies(iam, role).values():
            for sid, statement in _statements(document).items():
                assert statement["Effect"] == "Allow"
                assert not any("*" in action for action in statement["Action"]), (role, sid)
                if "*" in statement["Resource"]:
                    assert sid == "LambdaVpcNetworkInterfaces", (role, sid)


# --------------------------------------------------------------------- logs


def test_log_groups_with_retention(deployed_foundation, aws):
    groups = aws("logs").describe_log_groups()["logGroups"]
    got = {
        g["logGroupName"]: g.get("retentionInDays") for g in groups if PROJECT in g["logGroupName"]
    }
    assert got == {
        f"/aws/lambda/{PROJECT}-lambda-ingest": 30,
        f"/aws/lambda/{PROJECT}-lambda-etl": 30,
        f"/aws/apigateway/{PROJECT}-http-api/access": 30,
        FIREHOSE_LOG_GROUP: 30,
    }


# ----------------------------------------------------------------- firehose


def test_delivery_stream_read_back(deployed_foundation, aws):
    """The firehose layer's stream, as Firehose describes it (aws_firehose's defaults)."""
    firehose = aws("firehose")
    described = firehose.describe_delivery_stream(DeliveryStreamName=STREAM)
    stream = described["DeliveryStreamDescription"]
    assert stream["DeliveryStreamARN"] == STREAM_ARN
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert stream["DeliveryStreamStatus"] == "ACTIVE"
    # moto reports the key type it was given, without Firehose's Status.
    assert stream["DeliveryStreamEncryptionConfiguration"]["KeyType"] == "AWS_OWNED_CMK"
    (destination,) = stream["Destinations"]
    s3 = destination["ExtendedS3DestinationDescription"]
    assert s3["BucketARN"] == f"arn:aws:s3:::{RAW}"
    assert s3["RoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-firehose"
    assert s3["Prefix"] == "events/"
    assert s3["ErrorOutputPrefix"] == (
        "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    )
    assert s3["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert s3["CompressionFormat"] == "GZIP"
    assert s3["CloudWatchLoggingOptions"] == {
        "Enabled": True,
        "LogGroupName": FIREHOSE_LOG_GROUP,
        "LogStreamName": "S3Delivery",
    }
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName=STREAM)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Project": PROJECT}
    streams = aws("logs").describe_log_streams(logGroupName=FIREHOSE_LOG_GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["S3Delivery"]
    # What the ingest role may put into is this stream (IAM builds the ARN before it exists).
    assert published_facts(deployed_foundation)["aws_firehose_delivery_stream_arn"] == STREAM_ARN
    assert published_facts(deployed_foundation)["aws_firehose_delivery_stream_name"] == STREAM


# What moto's Firehose writes (one object per PutRecordBatch, at once, under
# events/YYYY/MM/DD/HH/ of the arrival hour) is checked through the lab's
# endpoint in tests/lambdas/test_playbook.py: here the raw bucket carries the
# TLS-only policy, which moto's plain-HTTP server enforces on GetObject and
# DeleteObject, so an object written here could be neither read nor emptied
# by the teardown.


# ---------------------------------------------------------------------- EC2


@pytest.fixture(scope="module")
def instances(deployed_foundation, aws):
    reservations = aws("ec2").describe_instances(
        Filters=[
            {"Name": "tag:Project", "Values": [PROJECT]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )["Reservations"]
    found = [i for r in reservations for i in r["Instances"]]
    by_role = {_tags(i)["Role"]: i for i in found}
    assert len(found) == len(by_role) == 2
    return by_role


@pytest.mark.parametrize(
    ("role", "subnet", "groups", "size"),
    [
        ("oltp", "public-oltp", {"sg-oltp"}, 20),
        ("dw", "private-analytics", {"sg-dw", "sg-shiny"}, 40),
    ],
)
def test_instance(instances, network, aws, public_key, role, subnet, groups, size):
    ec2 = aws("ec2")
    instance = instances[role]
    assert instance["ImageId"] == NEWEST_DEBIAN_AMD64
    assert instance["SubnetId"] == network["subnets"][f"{PROJECT}-{subnet}"]
    assert {g["GroupName"] for g in instance["SecurityGroups"]} == {
        f"{PROJECT}-{g}" for g in groups
    }
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert instance["KeyName"] == f"{PROJECT}-admin"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"/{PROJECT}-{role}-instance")
    assert _tags(instance) == {"Name": f"{PROJECT}-{role}", "Project": PROJECT, "Role": role}
    if role == "oltp":
        assert instance.get("PublicIpAddress")
    else:
        assert not instance.get("PublicIpAddress")
    (mapping,) = instance["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/xvda"
    (volume,) = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
    assert (volume["VolumeType"], volume["Encrypted"], volume["Size"]) == ("gp3", True, size)
    user_data = ec2.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )
    script = base64.b64decode(user_data["UserData"]["Value"]).decode()
    assert f"amazon-ssm-{REGION}/latest/debian_${{arch}}/amazon-ssm-agent.deb" in script
    (key,) = ec2.describe_key_pairs(KeyNames=[f"{PROJECT}-admin"], IncludePublicKey=True)[
        "KeyPairs"
    ]
    assert key["PublicKey"].split()[:2] == public_key.split()[:2]


def test_production_inventory_groups_hosts_by_role_and_uses_ssm(instances, production_inventory):
    inventory = production_inventory()
    assert inventory["oltp"]["hosts"] == [f"{PROJECT}-oltp"]
    assert inventory["dw"]["hosts"] == [f"{PROJECT}-dw"]
    hostvars = inventory["_meta"]["hostvars"]
    for role in ("oltp", "dw"):
        host = hostvars[f"{PROJECT}-{role}"]
        assert host["ansible_connection"] == "amazon.aws.aws_ssm"
        assert host["ansible_aws_ssm_instance_id"] == instances[role]["InstanceId"]
        assert host["ansible_aws_ssm_region"] == REGION
        assert host["ansible_aws_ssm_bucket_name"] == SSM
        assert host["clickstream_private_ip"] == instances[role]["PrivateIpAddress"]


# ----------------------------------------------------------------- refusals


def test_admin_cidr_open_to_the_internet_is_refused(deployed_foundation, run_aws, network):
    run = run_aws(
        "--tags",
        "security",
        "-e",
        '{"aws_security_groups_admin_ssh_cidrs": ["192.0.2.10/32", "0.0.0.0/0"]}',
    )
    assert run.returncode != 0
    (message,) = run.failure_messages()
    assert "aws_security_groups_admin_ssh_cidrs contains 0.0.0.0/0" in message
    assert "whole internet" in message
    assert run.total("changed") == 0


def test_halves_of_the_internet_are_refused_too(deployed_foundation, run_aws):
    run = run_aws(
        "--tags",
        "security",
        "-e",
        '{"aws_security_groups_shiny_admin_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]}',
    )
    assert run.returncode != 0
    (message,) = run.failure_messages()
    assert "aws_security_groups_shiny_admin_cidrs must list IPv4 CIDRs" in message
    assert "0.0.0.0/1, 128.0.0.0/1" in message
    assert run.total("changed") == 0


# -------------------------------------------------------------------- sinks
# The inventories' sink is firehose (read back above). Last in this file, the
# layers that follow the sink run with -e ingest_sink=s3: the ingest role puts
# objects again and has no Firehose access; the delivery stream, its role and
# its log group are gone. A run with the inventory's sink brings them back as
# they were, for test_layer_tags.py and test_teardown.py. An unknown sink is
# refused, naming the variable.

SINK_LAYERS = "logs,iam,firehose"


def _ingest_statements(aws) -> dict[str, tuple[list[str], list[str]]]:
    """Sid -> (actions, resources) of the ingest role's inline policy."""
    document = aws("iam").get_role_policy(
        RoleName=f"{PROJECT}-lambda-ingest", PolicyName=f"{PROJECT}-least-privilege"
    )["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return {
        s["Sid"]: (sorted(_listed(s["Action"])), sorted(_listed(s["Resource"])))
        for s in document["Statement"]
    }


def _listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _firehose_parts(aws) -> dict[str, bool]:
    roles = [r["RoleName"] for r in aws("iam").list_roles()["Roles"]]
    groups = [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]]
    return {
        "stream": STREAM in aws("firehose").list_delivery_streams()["DeliveryStreamNames"],
        "role": f"{PROJECT}-firehose" in roles,
        "log group": FIREHOSE_LOG_GROUP in groups,
    }


def test_the_s3_sink_puts_objects_and_has_no_stream(deployed_foundation, run_aws, aws):
    run = run_aws("--tags", SINK_LAYERS, "-e", "ingest_sink=s3")
    assert run.returncode == 0, run.failure_messages()
    assert _ingest_statements(aws) == {
        "WriteRawEvents": (["s3:PutObject"], [f"arn:aws:s3:::{RAW}/events/*"]),
        "WriteOwnLogs": (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{LOGS_ARN}:/aws/lambda/{PROJECT}-lambda-ingest:*"],
        ),
    }
    assert _firehose_parts(aws) == {"stream": False, "role": False, "log group": False}
    facts = published_facts(run)
    assert facts["aws_firehose_delivery_stream_name"] == ""
    assert facts["aws_iam_firehose_role_arn"] == ""
    assert facts["aws_logs_firehose_log_group_arn"] == ""
    again = run_aws("--tags", SINK_LAYERS, "-e", "ingest_sink=s3")
    assert again.returncode == 0, again.failure_messages()
    assert again.changed == 0, again.changed_tasks()


def test_the_inventory_sink_brings_the_stream_back(deployed_foundation, run_aws, aws):
    run = run_aws("--tags", SINK_LAYERS)
    assert run.returncode == 0, run.failure_messages()
    assert _firehose_parts(aws) == {"stream": True, "role": True, "log group": True}
    assert _ingest_statements(aws)["PutRecordsIntoDeliveryStream"] == (
        ["firehose:PutRecordBatch"],
        [STREAM_ARN],
    )
    assert "WriteRawEvents" not in _ingest_statements(aws)
    assert published_facts(run)["aws_firehose_delivery_stream_arn"] == STREAM_ARN


def test_an_unknown_sink_is_refused_naming_the_variable(deployed_foundation, run_aws):
    run = run_aws("--tags", "firehose", "-e", "ingest_sink=kinesis")
    assert run.returncode != 0
    messages = run.failure_messages()
    assert messages, run.output
    named = [m for m in messages if "ingest_sink" in m and "kinesis" in m and "firehose" in m]
    assert named, messages
    assert run.total("changed") == 0
