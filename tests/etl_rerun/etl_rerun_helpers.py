"""Helpers of the ETL schedule role and rerun playbook tests (conftest is not importable).

Playbooks run through ``ansible_moto.run_playbook`` (tests/fixtures): from the
project root (its ansible.cfg, roles and inventories) with the JSON callback,
so each task's result can be asserted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ansible_moto import PROJECT_ROOT, aws_client


def load_file(name: str, path: Path) -> Any:
    """Import a file under a unique module name (role plugins are not packages)."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ROLE = PROJECT_ROOT / "roles" / "etl_rerun"
RERUN_PLAYBOOK = PROJECT_ROOT / "playbooks" / "etl_rerun.yml"


def create_function_with_alias(endpoint: str, name: str, alias: str = "live") -> str:
    """A function with a published version and an alias, as lambda_function leaves it;
    returns the alias ARN."""
    import io
    import zipfile

    role = aws_client("iam", endpoint).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    client = aws_client("lambda", endpoint)
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Publish=True,
    )
    return client.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")["AliasArn"]
