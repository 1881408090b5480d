# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Ansible reads DOCUMENTATION before the imports, as in every plugin.
# ruff: noqa: E402
"""containers.podman.podman, with pipelining.

The upstream plugin copies every module into the container and runs it with
four or five `podman exec` calls. With pipelining, Ansible sends the module
on the standard input of one `podman exec --interactive`, which is how the ssh
connection works too: one process per task instead of five.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: podman
    author: Clickstream platform team
    short_description: Run tasks in a podman container, with pipelining
    description:
      - The C(containers.podman.podman) connection plugin, with pipelining
        enabled by passing the module to C(podman exec --interactive) on its
        standard input. Files are still put and fetched through the
        container's mounted file system.
      - Pipelining is used when C(ANSIBLE_PIPELINING) or C(pipelining) in
        C(ansible.cfg) is on, as for the ssh connection.
    extends_documentation_fragment:
      - connection_pipelining
    options:
      remote_addr:
        description:
          - The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description:
          - User, by name or UID, that runs commands inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description:
          - Extra arguments to pass to the podman command line.
        default: ''
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description:
          - Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)


class Connection(PodmanConnection):
    """A podman connection that can pipeline modules."""

    transport = "clickstream.lab.podman"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        """Run cmd in the container; in_data, when given, is its standard input."""
        if in_data is None:
            return super().exec_command(cmd, in_data=None, sudoable=sudoable)
        # The base class's bookkeeping (display, become checks), without its
        # `podman exec` that would not forward standard input.
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "--interactive"]
        if self.user:
            args += ["--user", self.user]
        command = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        return self._podman(args, command, in_data)
