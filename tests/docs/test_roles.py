"""Every role carries what the house style asks of it, and its README is current."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_specs_defaults_and_readme(role):
    for required in ("README.md", "meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml"):
        assert (role / required).is_file(), f"{role.name} lacks {required}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_is_specified_prefixed_and_commented(role):
    defaults_file = role / "defaults" / "main.yml"
    if not defaults_file.exists():
        pytest.skip(f"{role.name} has no defaults")
    defaults = yaml.safe_load(defaults_file.read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    specified = {name for spec in specs.values() for name in spec.get("options", {})}
    lines = defaults_file.read_text().splitlines()
    for name in defaults:
        assert name.startswith(f"{role.name}_"), f"{role.name}: {name} lacks the role prefix"
        assert name in specified, f"{role.name}: {name} is not in meta/argument_specs.yml"
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
        # Variables come in blank-line separated blocks, each opened by a comment.
        start = index
        while start > 0 and lines[start - 1].strip() not in ("", "---"):
            start -= 1
        assert lines[start].lstrip().startswith("#"), (
            f"{role.name}: the block of {name} in defaults/main.yml has no comment"
        )


def test_role_readmes_show_the_current_variables():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
