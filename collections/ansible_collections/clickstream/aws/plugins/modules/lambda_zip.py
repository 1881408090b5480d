#!/usr/bin/python
# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a Lambda deployment zip, byte for byte reproducibly (role lambda_package)."""

# Ansible's module layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402
from __future__ import annotations

DOCUMENTATION = r"""
---
module: lambda_zip
short_description: Build a reproducible AWS Lambda deployment zip
version_added: 1.1.0
description:
  - >-
    Copies a Lambda's handler sources, installs its third-party dependencies
    for the Lambda platform (C(pip install --platform manylinux2014_<arch>
    --python-version <runtime> --implementation cp --only-binary=:all:
    --target ...)) and writes a zip whose bytes depend only on the inputs -
    entries sorted by path, every timestamp 1980-01-01 00:00:00, files
    C(0644), no extra attributes, no directory entries, DEFLATE level 9.
  - In check mode a zip that needs rebuilding is built into
    C(<dest folder>/.check-mode/) instead, and RV(path) names it, so tasks
    that publish the zip compare its real checksum; the zip at O(dest) and
    its stamp are not touched.
  - The inputs (sources, requirements, runtime, architecture, pip options,
    precompilation and this builder's version) are hashed; the hash and the
    zip's checksum are stored beside the zip (C(<dest>.inputs.json)). The zip
    is rebuilt, and the task reports a change, only when that hash differs or
    the zip is missing or was altered.
  - With O(precompile=true), C(.pyc) files are added with
    C(compileall --invalidation-mode unchecked-hash) (source hashes, not
    timestamps, so still reproducible), but only when the build interpreter
    is the runtime's exact Python version; bytecode of any other version would
    be ignored by Lambda at best. Otherwise precompilation is skipped and
    RV(precompile_skipped) says why.
options:
  name:
    description: The package's name, used in messages.
    type: str
    required: true
  src:
    description: Folder of the sources (the handler's modules, or the packages of O(packages)).
    type: path
    required: true
  packages:
    description:
      - The entries of O(src) (package folders or modules) that go into the
        zip, each at the zip's root under its own name, for example the
        function's package and a library it shares with others. Every one
        must exist.
      - Empty or omitted means everything in O(src).
    type: list
    elements: str
    default: []
  dest:
    description: Path of the zip to write.
    type: path
    required: true
  requirements:
    description:
      - A pip requirements file of third-party dependencies. Comment-only or
        absent means none (pip does not run). Pin exact versions - the
        file's text, not the index, decides when the zip is rebuilt.
    type: path
  runtime:
    description: Lambda runtime, C(python3.<minor>).
    type: str
    default: python3.12
  architecture:
    description: Lambda architecture.
    type: str
    choices: [arm64, x86_64]
    default: arm64
  exclude:
    description:
      - Glob patterns of source paths left out of the zip, matched against
        every path component and against the relative path.
    type: list
    elements: str
    default: [tests, README.md, __pycache__, requirements.txt, "*.pyc", ".*"]
  precompile:
    description: Add C(.pyc) files when the build interpreter matches the runtime's Python version.
    type: bool
    default: true
  python:
    description: Interpreter that runs pip and compileall.
    type: path
    required: true
  pip_cache_dir:
    description: pip's cache folder, so a rebuild does not download again.
    type: path
    required: true
  pip_extra_args:
    description: More pip arguments (an index mirror, C(--no-index --find-links DIR)).
    type: list
    elements: str
    default: []
author:
  - Clickstream platform team
notes:
  - Runs on the controller (or wherever the task is delegated); O(python) and pip
    must be able to reach the package index, or a local wheelhouse through
    O(pip_extra_args).
"""

EXAMPLES = r"""
- name: Build the ingest Lambda's zip for arm64 / Python 3.12, with the library it shares
  clickstream.aws.lambda_zip:
    name: ingest
    src: "{{ playbook_dir }}/src"
    packages: [clickstream_ingest, clickstream_common]
    dest: "{{ build_dir }}/ingest.zip"
    requirements: "{{ playbook_dir }}/src/clickstream_ingest/requirements.txt"
    python: "{{ ansible_playbook_python }}"
    pip_cache_dir: "{{ build_dir }}/pip-cache"
  register: ingest_zip

- name: Build for x86_64 from a local wheelhouse, without bytecode
  clickstream.aws.lambda_zip:
    name: etl
    src: /srv/build/etl
    dest: /srv/build/out/etl.zip
    architecture: x86_64
    runtime: python3.12
    precompile: false
    python: /usr/bin/python3.12
    pip_cache_dir: /var/cache/pip
    pip_extra_args: [--no-index, --find-links, /srv/wheelhouse]

- name: Publish the zip (CodeSha256 tells amazon.aws.lambda whether it changed)
  amazon.aws.lambda:
    name: clickstream-lambda-ingest
    zip_file: "{{ ingest_zip.path }}"
"""

RETURN = r"""
path:
  description: The zip (in check mode, when it would be rebuilt, the scratch copy built instead).
  returned: always
  type: str
size:
  description: Size of the zip in bytes.
  returned: always
  type: int
sha256:
  description: Hex SHA-256 of the zip.
  returned: always
  type: str
code_sha256:
  description: Base64 SHA-256 of the zip, what Lambda calls CodeSha256.
  returned: always
  type: str
inputs_hash:
  description: Hash of everything the zip is built from.
  returned: always
  type: str
files:
  description: Number of entries in the zip.
  returned: always
  type: int
precompiled:
  description: Whether .pyc files are in the zip.
  returned: always
  type: bool
precompile_skipped:
  description: Why precompilation was skipped (empty when it was not).
  returned: always
  type: str
dependencies:
  description: The requirement lines installed.
  returned: always
  type: list
  elements: str
  sample: ["psycopg2-binary==2.9.13"]
"""

import base64
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

from ansible.module_utils.basic import AnsibleModule

# Bump when the zip layout changes, so every package is rebuilt once.
BUILDER_VERSION = "2"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
CHECK_MODE_FOLDER = ".check-mode"  # beside the zips: what check mode would build
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's python3.12 and later run on Amazon Linux 2023 (glibc 2.34), earlier
# ones on Amazon Linux 2 (glibc 2.26). pip takes only the platform tags it is
# given, so name every manylinux level the runtime's glibc can load: some
# wheels (psycopg2-binary 2.9.13 on aarch64) exist only as manylinux_2_28.
AL2023_FIRST_MINOR = 12
RUNTIME_RE = re.compile(r"^python(3)\.(\d+)$")


class PackageError(Exception):
    """A problem the user can fix; reported as the task's failure message."""


def runtime_version(runtime: str) -> str:
    match = RUNTIME_RE.match(runtime)
    if not match:
        raise PackageError(f"runtime must look like python3.12, not {runtime!r}")
    return f"{match.group(1)}.{match.group(2)}"


def requirement_lines(path: str | None) -> list[str]:
    """The requirement lines of a pip file, without comments and blank lines."""
    if not path:
        return []
    if not os.path.isfile(path):
        raise PackageError(f"requirements file {path} does not exist")
    lines = []
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def excluded(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    return any(
        fnmatch.fnmatchcase(relative, pattern)
        or any(fnmatch.fnmatchcase(part, pattern) for part in parts)
        for pattern in patterns
    )


def source_files(src: str, patterns: list[str], packages: list[str]) -> list[str]:
    """Relative paths of the sources to package, sorted."""
    if not os.path.isdir(src):
        raise PackageError(f"source folder {src} does not exist")
    missing = [name for name in packages if not os.path.exists(os.path.join(src, name))]
    if missing:
        raise PackageError(f"packages not found in {src}: {', '.join(missing)}")
    found = []
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        if packages and not rel_root:
            dirs[:] = [d for d in dirs if d in packages]
            files = [f for f in files if f in packages]
        dirs[:] = sorted(d for d in dirs if not excluded(rel_root + d, patterns))
        found.extend(rel_root + f for f in files if not excluded(rel_root + f, patterns))
    if not found:
        raise PackageError(f"no source file left in {src} after excluding {patterns}")
    return sorted(found)


def interpreter_version(python: str) -> str:
    try:
        result = subprocess.run(  # noqa: S603 - argv list, no shell; the role's own interpreter
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise PackageError(f"cannot run {python}: {exc.strerror}") from exc
    if result.returncode != 0:
        raise PackageError(f"cannot run {python}: {result.stderr.strip()}")
    return result.stdout.strip()


def inputs_hash(params: dict, files: list[str], deps: list[str], precompile_with: str) -> str:
    digest = hashlib.sha256()
    settings = {
        "builder": BUILDER_VERSION,
        "runtime": params["runtime"],
        "architecture": params["architecture"],
        "dependencies": deps,
        "pip_extra_args": params["pip_extra_args"] if deps else [],
        "precompile_with": precompile_with,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for relative in files:
        digest.update(b"\0" + relative.encode() + b"\0")
        with open(os.path.join(params["src"], relative), "rb") as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def checksums(path: str) -> tuple[str, str, int]:
    with open(path, "rb") as handle:
        data = handle.read()
    raw = hashlib.sha256(data).digest()
    return raw.hex(), base64.b64encode(raw).decode(), len(data)


def read_stamp(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def run(command: list[str], what: str, env: dict | None = None) -> None:
    # An argv list without a shell: the interpreter and arguments come from the role.
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    except OSError as exc:
        raise PackageError(f"{what} failed: cannot run {command[0]}: {exc.strerror}") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise PackageError(f"{what} failed ({' '.join(command)}):\n{output}")


def platform_tags(architecture: str, version: str) -> list[str]:
    """pip --platform tags for the Lambda runtime of this Python version."""
    machine = MACHINES[architecture]
    tags = [f"manylinux2014_{machine}"]
    if int(version.split(".")[1]) >= AL2023_FIRST_MINOR:
        tags.append(f"manylinux_2_28_{machine}")
    return tags


def install_dependencies(params: dict, deps_file: str, target: str, version: str) -> None:
    os.makedirs(params["pip_cache_dir"], exist_ok=True)
    platform_args = []
    for tag in platform_tags(params["architecture"], version):
        platform_args += ["--platform", tag]
    run(
        [
            params["python"],
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-input",
            *(
                arg
                for tag in platform_tags(params["architecture"], version)
                for arg in ("--platform", tag)
            ),
            "--python-version",
            version,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--target",
            target,
            "--cache-dir",
            params["pip_cache_dir"],
            *params["pip_extra_args"],
            "--requirement",
            deps_file,
        ],
        "pip install",
    )


def precompile(python: str, tree: str) -> None:
    # A fixed hash seed: set and frozenset constants are marshalled in
    # iteration order, which hash randomisation would otherwise vary. The
    # file names recorded in the bytecode are the ones Lambda runs
    # (/var/task/...), not the random build folder.
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = [
        python, "-m", "compileall", "-q",
        "--invalidation-mode", "unchecked-hash",
        "-s", tree, "-p", LAMBDA_TASK_ROOT,
        tree,
    ]  # fmt: skip
    run(command, "compileall", env=env)


def write_zip(tree: str, dest: str) -> int:
    entries = []
    for root, _dirs, files in os.walk(tree):
        for name in files:
            full = os.path.join(root, name)
            entries.append((os.path.relpath(full, tree).replace(os.sep, "/"), full))
    entries.sort()
    partial = dest + ".partial"
    with zipfile.ZipFile(partial, "w") as archive:
        for relative, full in entries:
            info = zipfile.ZipInfo(relative, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so the permission bits are honoured
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(full, "rb") as handle:
                archive.writestr(info, handle.read(), compresslevel=9)
    os.replace(partial, dest)
    return len(entries)


def build(params: dict, files: list[str], deps: list[str], version: str, compile_: bool) -> int:
    dest_dir = os.path.dirname(params["dest"]) or "."
    with tempfile.TemporaryDirectory(prefix=".lambda-zip-", dir=dest_dir) as workdir:
        tree = os.path.join(workdir, "package")
        os.makedirs(tree)
        if deps:
            deps_file = os.path.join(workdir, "requirements.txt")
            with open(deps_file, "w", encoding="utf-8") as handle:
                handle.write("\n".join(deps) + "\n")
            install_dependencies(params, deps_file, tree, version)
        # The handler's own files win over a dependency's file of the same name.
        for relative in files:
            target = os.path.join(tree, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(params["src"], relative), target)
        if compile_:
            precompile(params["python"], tree)
        return write_zip(tree, params["dest"])


def package(params: dict, check_mode: bool) -> dict:
    version = runtime_version(params["runtime"])
    files = source_files(params["src"], params["exclude"], params["packages"])
    deps = requirement_lines(params["requirements"])
    skipped = ""
    compile_with = ""
    if params["precompile"]:
        build_version = interpreter_version(params["python"])
        if build_version == version:
            compile_with = build_version
        else:
            skipped = (
                f"the build interpreter is Python {build_version}, the runtime {params['runtime']}:"
                " bytecode is only valid for the exact version that wrote it"
            )
    wanted = inputs_hash(params, files, deps, compile_with)
    stamp_path = params["dest"] + ".inputs.json"
    stamp = read_stamp(stamp_path)
    result = {
        "path": params["dest"],
        "inputs_hash": wanted,
        "precompiled": bool(compile_with),
        "precompile_skipped": skipped,
        "dependencies": deps,
    }
    current = checksums(params["dest"]) if os.path.isfile(params["dest"]) else None
    if current and stamp.get("inputs_hash") == wanted and stamp.get("sha256") == current[0]:
        result.update(changed=False, sha256=current[0], code_sha256=current[1], size=current[2])
        result["files"] = stamp.get("files")
        return result
    if check_mode:
        # The zip at dest is left alone; the would-be zip is built aside, so
        # the tasks that publish it compare its real checksum in check mode too.
        params = dict(params, dest=check_mode_path(params["dest"]))
    os.makedirs(os.path.dirname(params["dest"]) or ".", exist_ok=True)
    count = build(params, files, deps, version, bool(compile_with))
    sha_hex, sha_b64, size = checksums(params["dest"])
    if not check_mode:
        with open(stamp_path, "w", encoding="utf-8") as handle:
            json.dump({"inputs_hash": wanted, "sha256": sha_hex, "files": count}, handle, indent=1)
            handle.write("\n")
    result.update(
        changed=True,
        path=params["dest"],
        sha256=sha_hex,
        code_sha256=sha_b64,
        size=size,
        files=count,
    )
    return result


def check_mode_path(dest: str) -> str:
    """Where check mode builds the zip it would write to dest."""
    folder, name = os.path.split(dest)
    return os.path.join(folder, CHECK_MODE_FOLDER, name)


ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "src": {"type": "path", "required": True},
    "packages": {"type": "list", "elements": "str", "default": []},
    "dest": {"type": "path", "required": True},
    "requirements": {"type": "path"},
    "runtime": {"type": "str", "default": "python3.12"},
    "architecture": {"type": "str", "default": "arm64", "choices": ["arm64", "x86_64"]},
    "exclude": {
        "type": "list",
        "elements": "str",
        "default": ["tests", "README.md", "__pycache__", "requirements.txt", "*.pyc", ".*"],
    },
    "precompile": {"type": "bool", "default": True},
    "python": {"type": "path", "required": True},
    "pip_cache_dir": {"type": "path", "required": True},
    "pip_extra_args": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    try:
        result = package(module.params, module.check_mode)
    except PackageError as exc:
        module.fail_json(msg=f"{module.params['name']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
