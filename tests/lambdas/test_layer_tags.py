"""The Lambda layers of site.yml run alone on a deployed platform.

``ansible-playbook site.yml --tags api`` runs the packaging, the publishing and
the HTTP API plays of playbooks/lambdas.yml without the AWS foundation's
plays: the first play of playbooks/aws.yml finds every foundation layer they
read (IAM roles, bucket, network, security groups, log groups, the DW host)
and sets the facts a full run would. On a deployed platform that run changes
nothing; playbooks/lambdas.yml run alone stops with the message that says how
to run it.

site.yml runs with ``--limit localhost``: its host plays need the lab's
containers, and with the limit they match no host. The foundation needs a moto
server with AWS managed policies and the lab's Debian AMIs, so this module
starts one of its own (the session's server is a plain one, shared with
test_playbook.py's hand-made foundation). The ETL's dependency comes from the
local wheelhouse, as in test_playbook.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import ansible_moto
import pytest
from ansible_moto import Moto, PlaybookRun

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ETL = "clickstream-lambda-etl"
INGEST = "clickstream-lambda-ingest"
FOUNDATION = {"storage", "network", "security", "logs", "iam", "ec2"}
# An OpenSSH public key for the EC2 key pair (a public key is no secret).
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmdDlSgAEvuF4OEO2ZJ1v+BQaqLapba/IouvHgFDF6X tests"
)


@pytest.fixture(scope="module")
def platform_moto() -> Iterator[Moto]:
    settings = {
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "MOTO_AMIS_PATH": str(PROJECT_ROOT / "roles" / "lab" / "files" / "debian12_amis.json"),
    }
    log = PROJECT_ROOT / ".state" / "tests-lambdas-layer-tags-moto.log"
    with ansible_moto.moto_process(log, settings) as server:
        yield server


@pytest.fixture(scope="module")
def site(platform_moto, tmp_path_factory, wheelhouse):
    """Run a playbook against the module's moto with the deployment's vars, timed."""
    workdir = tmp_path_factory.mktemp("layer-tags")
    etl_requirements = workdir / "etl-requirements.txt"
    etl_requirements.write_text("cstest_native==1.0\n")
    extra_vars = {
        "aws_ec2_public_key": PUBLIC_KEY,
        "lambda_package_build_dir": str(workdir / "build"),
        "lambda_package_pip_cache_dir": str(workdir / "pip-cache"),
        "lambda_package_pip_extra_args": ["--no-index", "--find-links", str(wheelhouse)],
        "lambda_package_functions": [
            {"name": "ingest", "src": str(PROJECT_ROOT / "lambda_src" / "ingest")},
            {
                "name": "etl",
                "src": str(PROJECT_ROOT / "lambda_src" / "etl"),
                "requirements": str(etl_requirements),
            },
        ],
    }

    def run(playbook: str, *args: str) -> PlaybookRun:
        started = time.monotonic()
        result = ansible_moto.run_playbook(
            playbook, *args, endpoint=platform_moto.url, extra_vars=extra_vars
        )
        print(f"\n{playbook} {' '.join(args)}: {time.monotonic() - started:.0f} s")
        return result

    return run


def discovered(run: PlaybookRun) -> set[str]:
    """The foundation layers (role names without aws_) whose discover tasks ran."""
    return {
        name.split(" : ", 1)[0].removeprefix("aws_").replace("security_groups", "security")
        for name, result in run.task_results()
        if "arg spec 'discover'" in name and not result.get("skipped")
    }


@pytest.fixture(scope="module")
def deployed(site) -> PlaybookRun:
    """The AWS foundation, both Lambdas and the HTTP API, built once."""
    run = site("site.yml", "--limit", "localhost", "--tags", "aws,lambdas,api")
    assert run.returncode == 0, run.output
    assert discovered(run) == set()
    return run


def test_lambdas_yml_alone_says_how_to_run_it(site):
    run = site("playbooks/lambdas.yml", "--tags", "api")
    assert run.returncode != 0
    (message,) = run.failure_messages()
    assert "run via site.yml" in message
    assert "or after aws.yml" in message


def test_the_api_layer_alone_finds_the_foundation_and_changes_nothing(
    deployed, site, platform_moto
):
    run = site("site.yml", "--limit", "localhost", "--tags", "api")
    assert run.returncode == 0, run.output
    assert run.changed == 0, run.changed_tasks()
    assert discovered(run) == FOUNDATION
    # The HTTP API play did its work (it is left out when no alias ARN is known).
    api_tasks = [
        n for n, r in run.task_results() if n.startswith("http_api : ") and not r.get("skipped")
    ]
    assert api_tasks, run.output
    # The functions still point at what the foundation built.
    lam = platform_moto.client("lambda")
    ec2 = platform_moto.client("ec2")
    etl = lam.get_function_configuration(FunctionName=ETL)
    subnets = ec2.describe_subnets(
        Filters=[{"Name": "tag:Name", "Values": ["clickstream-private-etl"]}]
    )["Subnets"]
    assert etl["VpcConfig"]["SubnetIds"] == [subnets[0]["SubnetId"]]
    dw = ec2.describe_instances(Filters=[{"Name": "tag:Role", "Values": ["dw"]}])
    dw_ip = dw["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    assert etl["Environment"]["Variables"]["DW_PG_HOST"] == dw_ip
    role = platform_moto.client("iam").get_role(RoleName=INGEST)["Role"]["Arn"]
    assert lam.get_function_configuration(FunctionName=INGEST)["Role"] == role
