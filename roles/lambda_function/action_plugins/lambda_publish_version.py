"""Run the lambda_publish_version module with amazon.aws.lambda's connection defaults.

``module_defaults`` groups (``group/aws``, ``group/clickstream.aws.aws``) can
only name modules of collections, so they never reach a role's own module.
This action plugin looks up the defaults the play would give
``amazon.aws.lambda``, keeps the AWS connection settings among them
(endpoint, region, credentials, profile, TLS options) and hands them to the
module, under whatever the task sets itself. The role's publish step thus
talks to the same endpoint as every other AWS task of the play.
"""

from __future__ import annotations

from ansible.executor.module_common import _apply_action_arg_defaults
from ansible.plugins.action import ActionBase
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

DEFAULTS_FROM = "amazon.aws.lambda"


def connection_option_names() -> frozenset[str]:
    """Every name (and alias) of the options all amazon.aws modules take."""
    names = set()
    for name, spec in aws_argument_spec().items():
        names.add(name)
        names.update(spec.get("aliases", ()))
    return frozenset(names)


class ActionModule(ActionBase):
    """Merge the connection defaults into the task's arguments, then run the module."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        defaults = _apply_action_arg_defaults(DEFAULTS_FROM, self._task, {}, self._templar)
        allowed = connection_option_names()
        for name, value in defaults.items():
            if name in allowed and name not in args:
                args[name] = value
        result.update(
            self._execute_module(
                module_name=self._task.action, module_args=args, task_vars=task_vars
            )
        )
        return result
