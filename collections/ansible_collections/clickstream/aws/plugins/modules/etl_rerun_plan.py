#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate an ETL rerun's hour range and split it into chunks (role etl_rerun)."""

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402
from __future__ import annotations

DOCUMENTATION = r"""
---
module: etl_rerun_plan
short_description: Validate an ETL rerun's hour range and split it into chunks
version_added: 1.1.0
description:
  - Checks the first and last UTC hour of a rerun (C(YYYY-MM-DDTHH), inclusive),
    that the last is not before the first, and that the range is no wider than
    O(max_hours) unless O(force=true); each failure names the input and says
    what is expected.
  - Splits the range into consecutive chunks of at most O(chunk_hours) hours,
    one ETL invocation each.
  - Makes no change and runs in check mode.
options:
  first:
    description: First hour, C(YYYY-MM-DDTHH) (UTC); the playbook's C(etl_from).
    type: str
    default: ""
  last:
    description: Last hour, C(YYYY-MM-DDTHH) (UTC), inclusive; the playbook's C(etl_to).
    type: str
    default: ""
  max_hours:
    description: Widest range accepted without O(force).
    type: int
    default: 168
  force:
    description: Accept a range wider than O(max_hours).
    type: bool
    default: false
  chunk_hours:
    description: Hours per chunk (per ETL invocation), 1 to 168 (the ETL's own limit per run).
    type: int
    default: 6
author:
  - Clickstream platform team
"""

EXAMPLES = r"""
- name: Validate the hour range and split it into chunks
  clickstream.aws.etl_rerun_plan:
    first: "{{ etl_from }}"
    last: "{{ etl_to }}"
    chunk_hours: 6
  register: rerun_plan

- name: Reprocess one chunk per loop item
  ansible.builtin.debug:
    msg: "{{ item.from }} .. {{ item.to }} ({{ item.hours }} h)"
  loop: "{{ rerun_plan.chunks }}"

- name: A whole month, past the week-long limit, a day per invocation
  clickstream.aws.etl_rerun_plan:
    first: "2026-11-01T00"
    last: "2026-11-30T23"
    force: true
    chunk_hours: 24
"""

RETURN = r"""
hours:
  description: Number of hours in the range.
  returned: success
  type: int
chunks:
  description: The chunks in order, each C({from, to, hours}), hours as C(YYYY-MM-DDTHH).
  returned: success
  type: list
  elements: dict
  sample: [{"from": "2026-11-24T05", "to": "2026-11-24T10", "hours": 6},
           {"from": "2026-11-24T11", "to": "2026-11-24T12", "hours": 2}]
"""

import re
from datetime import UTC, datetime, timedelta

from ansible.module_utils.basic import AnsibleModule

HOUR_FORMAT = "%Y-%m-%dT%H"
HOUR_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}$")
ETL_MAX_HOURS_PER_RUN = 168
USAGE = "ansible-playbook playbooks/etl_rerun.yml -e etl_from=2026-11-24T05 -e etl_to=2026-11-24T07"


class PlanError(ValueError):
    """An input the operator must correct; the message says how."""


def parse_hour(value: str, name: str) -> datetime:
    text = (value or "").strip()
    if not HOUR_PATTERN.match(text):
        raise PlanError(
            f"{name} must be a UTC hour formatted YYYY-MM-DDTHH (for example 2026-11-24T05), "
            f'got "{value}"'
        )
    try:
        return datetime.strptime(text, HOUR_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise PlanError(f'{name} is not a real date and hour: "{value}" ({exc})') from None


def plan(
    first: str, last: str, *, max_hours: int, force: bool, chunk_hours: int
) -> tuple[int, list[dict]]:
    missing = [name for name, value in (("etl_from", first), ("etl_to", last)) if not value]
    if missing:
        raise PlanError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required: "
            f"the first and last UTC hour to reprocess, inclusive ({USAGE})"
        )
    if not 1 <= chunk_hours <= ETL_MAX_HOURS_PER_RUN:
        raise PlanError(
            f"etl_rerun_chunk_hours must be between 1 and {ETL_MAX_HOURS_PER_RUN} "
            f"(the ETL's limit per invocation), got {chunk_hours}"
        )
    if max_hours < 1:
        raise PlanError(f"etl_rerun_max_hours must be at least 1, got {max_hours}")
    start, end = parse_hour(first, "etl_from"), parse_hour(last, "etl_to")
    if end < start:
        raise PlanError(
            f"etl_to ({last}) is before etl_from ({first}): give the first hour as etl_from "
            "and the last as etl_to (both included)"
        )
    hours = int((end - start) / timedelta(hours=1)) + 1
    chunk_count = -(-hours // chunk_hours)
    if hours > max_hours and not force:
        raise PlanError(
            f"{hours} hours requested ({first} to {last}), more than the limit of {max_hours}: "
            f"narrow the range, or add -e etl_force=true to reprocess all of it "
            f"({chunk_count} invocations of up to {chunk_hours} hours)"
        )
    chunks = []
    current = start
    while current <= end:
        stop = min(current + timedelta(hours=chunk_hours - 1), end)
        chunks.append(
            {
                "from": current.strftime(HOUR_FORMAT),
                "to": stop.strftime(HOUR_FORMAT),
                "hours": int((stop - current) / timedelta(hours=1)) + 1,
            }
        )
        current = stop + timedelta(hours=1)
    return hours, chunks


ARGUMENT_SPEC = {
    "first": {"type": "str", "default": ""},
    "last": {"type": "str", "default": ""},
    "max_hours": {"type": "int", "default": 168},
    "force": {"type": "bool", "default": False},
    "chunk_hours": {"type": "int", "default": 6},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        hours, chunks = plan(
            params["first"] or "",
            params["last"] or "",
            max_hours=params["max_hours"],
            force=params["force"],
            chunk_hours=params["chunk_hours"],
        )
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if parse_hour(chunks[-1]["to"], "etl_to") >= now:
        module.warn(
            f"etl_to ({params['last']}) is the current hour or later: objects still arriving "
            "there are picked up by the next scheduled run (or a rerun later)"
        )
    module.exit_json(changed=False, hours=hours, chunks=chunks)


if __name__ == "__main__":
    main()
