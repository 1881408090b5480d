"""playbooks/lambdas.yml alone, without the AWS foundation's facts, says how to run it.

Its publish and API plays read facts that playbooks/aws.yml sets (IAM role
ARNs, bucket, ETL subnet and security group, log group): site.yml builds the
foundation first (playbooks/aws.yml) or finds it. ``lambdas.yml --tags api``
run alone stops before touching AWS, with the message that says to run it via
site.yml. That ``site.yml --tags api`` on a deployed platform finds all six
foundation layers and changes nothing is proved on the lab, end to end
(tests/e2e).

The Lambdas are packaged first (that play needs no facts), into a temporary
folder, with the ETL's dependency from the local wheelhouse, as in
test_playbook.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_build import package_function

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_lambdas_yml_alone_says_how_to_run_it(run_playbook, tmp_path, wheelhouse):
    etl_requirements = tmp_path / "etl-requirements.txt"
    etl_requirements.write_text("cstest_native==1.0\n")
    package_vars = {
        "lambda_package_build_dir": str(tmp_path / "build"),
        "lambda_package_pip_cache_dir": str(tmp_path / "pip-cache"),
        "lambda_package_pip_extra_args": ["--no-index", "--find-links", str(wheelhouse)],
        "lambda_package_functions": [
            package_function("ingest"),
            package_function("etl", etl_requirements),
        ],
    }
    run = run_playbook("playbooks/lambdas.yml", "--tags", "api", extra_vars=package_vars)
    assert run.returncode != 0
    (message,) = run.failure_messages()
    assert "run via site.yml" in message
    assert "or after aws.yml" in message
