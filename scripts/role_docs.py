#!/usr/bin/env python3
"""Write each role's variable table into its README from meta/argument_specs.yml.

The argument specs are the single source of truth for a role's variables; the
README shows them between two markers:

    <!-- BEGIN ROLE VARIABLES -->
    ...generated...
    <!-- END ROLE VARIABLES -->

Usage: scripts/role_docs.py [--check] [ROLE_DIR ...]   (default: every role)
--check exits 1, naming the READMEs, when one is not up to date.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN ROLE VARIABLES -->"
END = "<!-- END ROLE VARIABLES -->"


def _cell(text: object) -> str:
    text = re.sub(r"\b[CIVB]\(([^)]*)\)", r"`\1`", str(text))  # Ansible doc markup
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _default(option: dict) -> str:
    if "default" not in option:
        return "*required*" if option.get("required") else "see defaults/main.yml"
    return f"`{yaml.safe_dump(option['default'], default_flow_style=True).strip()}`".replace(
        "\n...", ""
    )


def _describe(option: dict) -> str:
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    if "choices" in option:
        description += " One of: " + ", ".join(f"`{c}`" for c in option["choices"]) + "."
    return _cell(description)


def render(spec_path: Path) -> str:
    specs = yaml.safe_load(spec_path.read_text())["argument_specs"]
    lines = []
    for entry, spec in specs.items():
        if len(specs) > 1:
            lines += [f"Entry point `{entry}`:", ""]
        lines += ["| variable | type | default | description |", "|---|---|---|---|"]
        for name, option in sorted(spec.get("options", {}).items()):
            kind = option.get("type", "str")
            if kind == "list" and "elements" in option:
                kind = f"list of {option['elements']}"
            lines.append(f"| `{name}` | {kind} | {_default(option)} | {_describe(option)} |")
            for sub, sub_option in sorted(option.get("options", {}).items()):
                lines.append(
                    f"| `{name}[].{sub}` | {sub_option.get('type', 'str')} | "
                    f"{_default(sub_option)} | {_describe(sub_option)} |"
                )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def update(role: Path, check: bool) -> bool:
    """Return True when the README is (now) up to date."""
    readme = role / "README.md"
    spec = role / "meta" / "argument_specs.yml"
    if not spec.exists():
        print(f"{role.name}: meta/argument_specs.yml is missing", file=sys.stderr)
        return False
    text = readme.read_text() if readme.exists() else ""
    if BEGIN not in text or END not in text:
        if check:
            print(
                f"{readme} has no generated variable table: run scripts/role_docs.py",
                file=sys.stderr,
            )
            return False
        text = f"{text.rstrip()}\n\n## Variables\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{render(spec)}{END}{tail}"
    if new == text:
        return True
    if check:
        print(f"{readme} is out of date: run scripts/role_docs.py", file=sys.stderr)
        return False
    readme.write_text(new)
    print(f"updated {readme.relative_to(ROOT)}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument("roles", nargs="*", type=Path, help="role folders (default: all)")
    args = parser.parse_args()
    roles = args.roles or sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
    results = [update(role.resolve(), args.check) for role in roles]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
