# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Ansible reads DOCUMENTATION before the imports, as in every plugin.
# ruff: noqa: E402
"""containers.podman.podman, with pipelining, entering the container with nsenter.

The upstream plugin copies every module into the container and runs it with
four or five `podman exec` calls. With pipelining, Ansible sends the module
on the standard input of one process in the container, which is how the ssh
connection works too: one process per task instead of five.

Each `podman exec` costs about 200 ms here (podman, conmon and runc start for
every command), ten times the Python start of the module it runs, and a task
that copies a file needs five or six of them. Run as root, the plugin asks
podman once per task for the container's main process and environment, then
enters the container's namespaces with nsenter (util-linux): about 5 ms a
command. Commands run as the container's root with its environment, working
directory and PID, mount, network, UTS, IPC and cgroup namespaces; services
they start are started by the container's own systemd. With a remote user,
or when not root, every command goes through `podman exec` as before.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: podman
    author: Clickstream platform team
    short_description: Run tasks in a podman container, with pipelining and nsenter
    description:
      - The C(containers.podman.podman) connection plugin, with pipelining
        enabled by passing the module to the container process on its
        standard input.
      - Run as root without a remote user, each task asks podman once for the
        container's main process and environment, and every command enters
        the container's namespaces with nsenter instead of C(podman exec);
        files are put and fetched through such a command too.
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
      enter_with:
        description:
          - How commands enter the container. C(nsenter) enters its namespaces
            directly (root only, without a remote user); C(podman) runs
            C(podman exec) for every command. C(nsenter) falls back to
            C(podman) where it cannot be used.
        type: str
        default: nsenter
        choices: [nsenter, podman]
        vars:
          - name: ansible_podman_enter_with
        env:
          - name: ANSIBLE_PODMAN_ENTER_WITH
      podman_executable:
        description:
          - Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""

import json
import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)

NSENTER = "/usr/bin/nsenter"
# The container's namespaces that a command joins (its user namespace is the
# host's: the lab's containers are rootful), then its root and working folder.
NSENTER_ARGS = ["--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--root", "--wd"]


class Connection(PodmanConnection):
    """A podman connection that can pipeline modules and enters containers with nsenter."""

    transport = "clickstream.lab.podman"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._target = None  # (pid, environment) of the container, with nsenter

    def _connect(self):
        if self._connected:
            return self
        if not self._use_nsenter():
            return super()._connect()
        rc, out, err = self._podman(
            ["container", "inspect", "--format", "{{.State.Pid}} {{json .Config.Env}}"]
        )
        pid, _, env = to_native(out).strip().partition(" ")
        if rc != 0 or not pid.isdigit() or pid == "0":
            raise AnsibleConnectionFailure(
                f"container {self._container_id} is not running: {to_native(err).strip() or pid}"
            )
        self._target = (pid, json.loads(env))
        self._connected = True
        return self

    def _use_nsenter(self):
        return (
            self.get_option("enter_with") == "nsenter"
            and not self.user
            and os.geteuid() == 0
            and os.path.exists(NSENTER)
        )

    def _enter(self, command, in_data=None):
        """Run command (a list) in the container's namespaces; in_data is its standard input."""
        pid, env = self._target
        local = [
            NSENTER,
            "--target",
            pid,
            *NSENTER_ARGS,
            "--",
            "/usr/bin/env",
            "-i",
            *env,
            *command,
        ]
        proc = subprocess.run(  # noqa: S603 - argv list, no shell: Ansible's own command
            [to_bytes(arg, errors="surrogate_or_strict") for arg in local],
            input=in_data,
            capture_output=True,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        """Run cmd in the container; in_data, when given, is its standard input."""
        if in_data is None and self._target is None:
            return super().exec_command(cmd, in_data=None, sudoable=sudoable)
        # The base class's bookkeeping (display, become checks), without its
        # `podman exec`, which would not forward standard input.
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        command = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        if self._target is not None:
            return self._enter(command, in_data)
        args = ["exec", "--interactive"]
        if self.user:
            args += ["--user", self.user]
        return self._podman(args, command, in_data)

    def put_file(self, in_path, out_path):
        if self._target is None:
            return super().put_file(in_path, out_path)
        super(PodmanConnection, self).put_file(in_path, out_path)
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as source:
            data = source.read()
        rc, _, err = self._enter(["/bin/sh", "-c", f"cat > {shlex.quote(out_path)}"], data)
        if rc != 0:
            raise AnsibleConnectionFailure(
                f"could not write {out_path} in container {self._container_id}: "
                f"{to_native(err).strip()}"
            )
        return None

    def fetch_file(self, in_path, out_path):
        if self._target is None:
            return super().fetch_file(in_path, out_path)
        super(PodmanConnection, self).fetch_file(in_path, out_path)
        rc, data, err = self._enter(["/bin/cat", "--", in_path])
        if rc != 0:
            raise AnsibleConnectionFailure(
                f"could not read {in_path} in container {self._container_id}: "
                f"{to_native(err).strip()}"
            )
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as target:
            target.write(data)
        return None

    def close(self):
        if self._target is None:
            return super().close()
        self._target = None
        self._connected = False
        return None
