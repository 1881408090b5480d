"""The lambda_package role's zip builder: reproducible bytes, rebuilds only on change.

The builder's ``package()`` is called directly (what the module runs), with
real pip runs against a local wheelhouse for the dependency path; the role
itself is exercised end to end by test_playbook.py.
"""

from __future__ import annotations

import hashlib
import marshal
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ansible_collections.clickstream.aws.plugins.modules import lambda_zip

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SRC = PROJECT_ROOT / "src"
PACKAGES = ["clickstream_ingest", "clickstream_common"]
BUILD_VERSION = "{}.{}".format(*sys.version_info[:2])


@pytest.fixture
def params(tmp_path):
    """The module's parameters for the ingest Lambda, building into tmp_path."""

    def make(**overrides) -> dict:
        values = {
            "name": "ingest",
            "src": str(SRC),
            "packages": PACKAGES,
            "dest": str(tmp_path / "build" / "ingest.zip"),
            "requirements": str(SRC / "clickstream_ingest" / "requirements.txt"),
            "runtime": "python3.12",
            "architecture": "arm64",
            "exclude": ["tests", "README.md", "__pycache__", "requirements.txt", "*.pyc", ".*"],
            "precompile": True,
            "python": sys.executable,
            "pip_cache_dir": str(tmp_path / "pip-cache"),
            "pip_extra_args": [],
        }
        values.update(overrides)
        return values

    return make


def copy_packages(dest: Path) -> Path:
    """The ingest zip's packages, copied into a source folder of the test's own."""
    for name in PACKAGES:
        shutil.copytree(SRC / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_same_inputs_give_the_same_bytes(params, tmp_path):
    first = lambda_zip.package(params(), check_mode=False)
    second = lambda_zip.package(params(dest=str(tmp_path / "other" / "ingest.zip")), False)
    assert first["changed"]
    assert second["changed"]
    assert first["sha256"] == second["sha256"] == sha256(second["path"])
    assert Path(first["path"]).read_bytes() == Path(second["path"]).read_bytes()
    # Lambda's CodeSha256 is the base64 of the same digest.
    assert first["code_sha256"] == lambda_zip.checksums(first["path"])[1]
    assert first["size"] == Path(first["path"]).stat().st_size


def test_unchanged_inputs_do_not_rebuild(params):
    built = lambda_zip.package(params(), check_mode=False)
    mtime = Path(built["path"]).stat().st_mtime_ns
    again = lambda_zip.package(params(), check_mode=False)
    assert not again["changed"]
    assert again["sha256"] == built["sha256"]
    assert Path(built["path"]).stat().st_mtime_ns == mtime


def test_a_changed_source_changes_the_zip(params, tmp_path):
    src = copy_packages(tmp_path / "src")
    before = lambda_zip.package(params(src=str(src)), check_mode=False)
    handler = src / "clickstream_ingest" / "handler.py"
    handler.write_text(handler.read_text() + "\n# a change\n")
    stamp = Path(before["path"] + ".inputs.json").read_bytes()
    in_check_mode = lambda_zip.package(params(src=str(src)), check_mode=True)
    assert in_check_mode["changed"]
    assert sha256(before["path"]) == before["sha256"], "check mode wrote the zip"
    assert Path(before["path"] + ".inputs.json").read_bytes() == stamp
    assert in_check_mode["path"] != before["path"]
    after = lambda_zip.package(params(src=str(src)), check_mode=False)
    assert after["changed"]
    assert after["sha256"] != before["sha256"]
    # Check mode predicted exactly the zip the real run built.
    assert in_check_mode["sha256"] == after["sha256"]
    assert after["path"] == before["path"]


@pytest.mark.parametrize(
    "change",
    [
        {"architecture": "x86_64"},
        {"runtime": "python3.13"},
        {"exclude": ["tests", "README.md", "__pycache__", "*.pyc", ".*"]},
    ],
    ids=["architecture", "runtime", "exclude"],
)
def test_a_changed_setting_rebuilds(params, change):
    lambda_zip.package(params(), check_mode=False)
    assert lambda_zip.package(params(**change), check_mode=False)["changed"]


def test_an_altered_zip_is_rebuilt(params):
    built = lambda_zip.package(params(), check_mode=False)
    Path(built["path"]).write_bytes(b"not the zip")
    again = lambda_zip.package(params(), check_mode=False)
    assert again["changed"]
    assert again["sha256"] == built["sha256"]


def test_zip_layout(params, tmp_path):
    src = copy_packages(tmp_path / "src")
    ingest = src / "clickstream_ingest"
    (ingest / "__pycache__").mkdir()
    (ingest / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"stale")
    (ingest / ".env").write_text("SECRET=1\n")
    (ingest / "pkg").mkdir()
    (ingest / "pkg" / "b.py").write_text("B = 1\n")
    (ingest / "pkg" / "a.py").write_text("A = 1\n")
    (ingest / "pkg" / "a.py").chmod(0o700)
    # What the function does not name stays out: another package, a stray module.
    (src / "clickstream_other").mkdir()
    (src / "clickstream_other" / "__init__.py").write_text("")
    (src / "setup_helper.py").write_text("")
    expected = sorted(
        f"{name}/{path.relative_to(src / name).as_posix()}"
        for name in PACKAGES
        for path in (src / name).rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert "clickstream_ingest/pkg/a.py" in expected
    built = lambda_zip.package(params(src=str(src)), check_mode=False)
    with zipfile.ZipFile(built["path"]) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == expected
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert info.extra == b""
            assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.comment == b""
        assert archive.read("clickstream_ingest/handler.py") == (ingest / "handler.py").read_bytes()
    assert built["files"] == len(expected)
    assert not built["dependencies"]


def test_dependencies_are_installed_for_the_target_platform(params, wheelhouse):
    requirements = wheelhouse / "requirements.txt"
    requirements.write_text("# pinned\ncstest_native==1.0  # native\ncstest_pure==2.0\n")
    common = {
        "requirements": str(requirements),
        "pip_extra_args": ["--no-index", "--find-links", str(wheelhouse)],
    }
    arm = lambda_zip.package(params(**common), check_mode=False)
    assert arm["dependencies"] == ["cstest_native==1.0", "cstest_pure==2.0"]
    with zipfile.ZipFile(arm["path"]) as archive:
        names = archive.namelist()
        assert "clickstream_ingest/handler.py" in names
        assert "cstest_pure.py" in names
        assert "manylinux2014_aarch64" in archive.read("cstest_native/__init__.py").decode()
        assert not [n for n in names if n.endswith(".pyc")], "pip must not compile (--no-compile)"
        assert names == sorted(names)
    x86 = lambda_zip.package(params(architecture="x86_64", **common), check_mode=False)
    with zipfile.ZipFile(x86["path"]) as archive:
        assert "manylinux2014_x86_64" in archive.read("cstest_native/__init__.py").decode()
    # Rebuilding with dependencies gives the same bytes again.
    Path(arm["path"] + ".inputs.json").unlink()
    again = lambda_zip.package(params(**common), check_mode=False)
    assert again["changed"]
    assert again["sha256"] == arm["sha256"]


def test_a_dependency_without_a_wheel_for_the_platform_fails_clearly(params, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("cstest_missing==1.0\n")
    with pytest.raises(
        lambda_zip.PackageError,
        match=r"(?s)pip install failed .*No matching distribution found for cstest_missing",
    ):
        lambda_zip.package(
            params(
                requirements=str(requirements),
                pip_extra_args=["--no-index", "--find-links", str(wheels)],
            ),
            check_mode=False,
        )
    assert not (tmp_path / "build" / "ingest.zip").exists()


def test_precompiles_only_for_the_build_interpreters_version(params, wheelhouse):
    other = "python3.12" if BUILD_VERSION != "3.12" else "python3.13"
    skipped = lambda_zip.package(params(runtime=other), check_mode=False)
    assert not skipped["precompiled"]
    assert "bytecode is only valid for the exact version" in skipped["precompile_skipped"]
    with zipfile.ZipFile(skipped["path"]) as archive:
        assert not [n for n in archive.namelist() if n.endswith(".pyc")]

    same = f"python{BUILD_VERSION}"
    requirements = wheelhouse / "requirements-pure.txt"
    requirements.write_text("cstest_pure==2.0\n")
    extra = {
        "requirements": str(requirements),
        "pip_extra_args": ["--no-index", "--find-links", str(wheelhouse)],
    }
    built = lambda_zip.package(params(runtime=same, **extra), check_mode=False)
    assert built["precompiled"]
    assert built["precompile_skipped"] == ""
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(built["path"]) as archive:
        names = archive.namelist()
        assert f"clickstream_ingest/__pycache__/handler.{tag}.pyc" in names
        assert f"__pycache__/cstest_pure.{tag}.pyc" in names
        pyc = archive.read(f"clickstream_ingest/__pycache__/handler.{tag}.pyc")
    # PEP 552 flags: 0b01 = hash-based, 0b10 clear = unchecked.
    assert int.from_bytes(pyc[4:8], "little") == 0b01
    # Tracebacks name the file where Lambda runs it, not the build folder.
    code = marshal.loads(pyc[16:])  # noqa: S302 - our own build
    assert code.co_filename == "/var/task/clickstream_ingest/handler.py"
    Path(built["path"] + ".inputs.json").unlink()
    rebuilt = lambda_zip.package(params(runtime=same, **extra), check_mode=False)
    assert rebuilt["sha256"] == built["sha256"]


def test_the_zip_runs_the_handler(params, tmp_path):
    """The unpacked zip is importable as Lambda imports it (from /var/task)."""
    built = lambda_zip.package(params(), check_mode=False)
    task = tmp_path / "task"
    with zipfile.ZipFile(built["path"]) as archive:
        archive.extractall(task)
    # The unpacked folder comes first on the path, before the editable install.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from clickstream_ingest import handler; import clickstream_common.logs as logs; "
            "print(callable(handler.handler), handler.__file__, logs.__file__)",
        ],
        cwd=task,
        capture_output=True,
        text=True,
        check=False,
    )
    runs, handler_file, library_file = probe.stdout.split()
    assert runs == "True", probe.stderr
    assert Path(handler_file).is_relative_to(task)
    assert Path(library_file).is_relative_to(task)


def test_a_package_that_is_not_there_is_named(params):
    with pytest.raises(lambda_zip.PackageError, match=r"not found in .*: clickstream_nope"):
        lambda_zip.package(params(packages=[*PACKAGES, "clickstream_nope"]), check_mode=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"runtime": "python3"}, "runtime must look like python3.12"),
        ({"runtime": "nodejs20.x"}, "runtime must look like python3.12"),
        ({"src": "/nonexistent/src"}, "source folder /nonexistent/src does not exist"),
        ({"requirements": "/nonexistent/requirements.txt"}, "requirements file .* does not exist"),
        ({"exclude": ["*"]}, "no source file left"),
        ({"python": "/nonexistent/python"}, "cannot run /nonexistent/python"),
    ],
    ids=["bare-python3", "not-python", "missing-src", "missing-requirements", "empty", "no-python"],
)
def test_bad_inputs_fail_clearly(params, overrides, message):
    with pytest.raises(lambda_zip.PackageError, match=message):
        lambda_zip.package(params(**overrides), check_mode=False)


@pytest.mark.parametrize(
    ("architecture", "version", "expected"),
    [
        # Amazon Linux 2023 runtimes (glibc 2.34) also load manylinux_2_28 wheels,
        # the only aarch64 build of psycopg2-binary 2.9.13.
        ("arm64", "3.12", ["manylinux2014_aarch64", "manylinux_2_28_aarch64"]),
        ("x86_64", "3.13", ["manylinux2014_x86_64", "manylinux_2_28_x86_64"]),
        # Amazon Linux 2 runtimes (glibc 2.26) do not.
        ("arm64", "3.11", ["manylinux2014_aarch64"]),
    ],
)
def test_platform_tags_follow_the_runtime_glibc(architecture, version, expected):
    assert lambda_zip.platform_tags(architecture, version) == expected
