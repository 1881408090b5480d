#!/usr/bin/env python3
"""Check a candidate pg_hba.conf against the platform's policy before it is installed.

Allowed lines: `local all postgres peer` (the administrator), `local <dbs> <users>
scram-sha-256`, and `hostssl <dbs> <users> <CIDR> scram-sha-256`. Anything else
(trust, password, md5, ident, plain `host`, a malformed address) is refused with
the line number, so Ansible's `validate:` keeps the running file.

Usage: pg_hba_check.py FILE
"""

import ipaddress
import re
import sys

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]*$")
ADMIN_LINE = ["local", "all", "postgres", "peer"]


def _names(field: str) -> bool:
    return all(NAME.match(name) for name in field.split(","))


def check_line(fields: list[str]) -> str | None:
    """Return why a pg_hba.conf line breaks the policy, or None when it is allowed."""
    if fields == ADMIN_LINE:
        return None
    kind = fields[0]
    if kind == "local":
        expected = 4
    elif kind == "hostssl":
        expected = 5
    else:
        return f"connection type {kind!r} is not allowed (only hostssl and local)"
    if len(fields) != expected:
        return f"{kind} lines have {expected} fields, this one has {len(fields)}"
    if fields[-1] != "scram-sha-256":
        return f"method {fields[-1]!r} is not allowed (only scram-sha-256)"
    if not (_names(fields[1]) and _names(fields[2])):
        return "databases and users must be plain names separated by commas"
    if kind == "hostssl":
        try:
            ipaddress.ip_network(fields[3], strict=True)
        except ValueError as error:
            return f"address {fields[3]!r} is not a CIDR: {error}"
        if "/" not in fields[3]:
            return f"address {fields[3]!r} needs a prefix length"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pg_hba_check.py FILE", file=sys.stderr)
        return 2
    errors = []
    with open(argv[1], encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            reason = check_line(fields)
            if reason:
                errors.append(f"{argv[1]}:{number}: {reason}: {line.strip()}")
    for error in errors:
        print(error, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
