"""Configuration (CONTRACT section 2): an invalid value stops `artifactsvc` at start-up with
one clear line naming the variable, and no server ever listens."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.processes import free_port, run_artifactsvc

INVALID = [
    ("ARTIFACTSVC_PORT", "abc"),
    ("ARTIFACTSVC_PORT", "0"),
    ("ARTIFACTSVC_PORT", "70000"),
    ("ARTIFACTSVC_PORT", "-1"),
    ("ARTIFACTSVC_PORT", "8_080"),
    ("ARTIFACTSVC_PORT", "\u0668\u0660\u0668\u0660"),
    ("ARTIFACTSVC_HOST", "bad host"),
    ("ARTIFACTSVC_MAX_ARTIFACT_SIZE", "1_000"),
    ("ARTIFACTSVC_DOWNLOAD_MODE", "x"),
    ("ARTIFACTSVC_DOWNLOAD_MODE", "redirect"),  # only with s3:// storage
    ("ARTIFACTSVC_LOG_FORMAT", "xml"),
    ("ARTIFACTSVC_EXTERNAL_URL", "ftp://example.com"),
    ("ARTIFACTSVC_EXTERNAL_URL", "not a url"),
    ("ARTIFACTSVC_DATABASE_URL", "mysql://db/artifacts"),
    ("ARTIFACTSVC_STORAGE_URL", "gs://bucket"),
    ("ARTIFACTSVC_STORAGE_URL", "s3://"),
    ("ARTIFACTSVC_MAX_ARTIFACT_SIZE", "big"),
    ("ARTIFACTSVC_MAX_ARTIFACT_SIZE", "0"),
    ("ARTIFACTSVC_DEFAULT_EXPIRE_IN", "soon"),
    ("ARTIFACTSVC_KEEP_LATEST_ARTIFACTS", "maybe"),
    ("ARTIFACTSVC_S3_CONNECT_TIMEOUT", "-5"),
    ("ARTIFACTSVC_S3_READ_TIMEOUT", "nan"),
]


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "ARTIFACTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/meta.db",
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        "ARTIFACTSVC_PORT": str(free_port()),
    }


def assert_one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode != 0, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(("variable", "value"), INVALID, ids=[f"{k}={v}" for k, v in INVALID])
def test_serve_refuses_an_invalid_value_in_one_line(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = {**base_env(tmp_path), variable: value}

    result = run_artifactsvc("serve", env=env, cwd=tmp_path, timeout=20)

    assert_one_line_naming(result, variable)
    assert not (tmp_path / "meta.db").exists()  # it stopped before touching the store


@pytest.mark.parametrize("command", [["migrate"], ["import", "missing.json"], ["expire"], ["gc"]])
def test_every_command_refuses_invalid_settings(tmp_path: Path, command: list[str]) -> None:
    env = {**base_env(tmp_path), "ARTIFACTSVC_PORT": "abc"}

    result = run_artifactsvc(*command, env=env, cwd=tmp_path, timeout=20)

    assert_one_line_naming(result, "ARTIFACTSVC_PORT")


def test_the_message_shows_the_bad_value_and_what_is_expected(tmp_path: Path) -> None:
    env = {**base_env(tmp_path), "ARTIFACTSVC_DOWNLOAD_MODE": "sideways"}

    result = run_artifactsvc("serve", env=env, cwd=tmp_path, timeout=20)

    assert "sideways" in result.stderr
    assert "proxy" in result.stderr


def test_migrate_creates_the_schema_with_valid_settings(tmp_path: Path) -> None:
    result = run_artifactsvc("migrate", env=base_env(tmp_path), cwd=tmp_path, timeout=20)

    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "meta.db").stat().st_size > 0


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_an_unusable_database_path_fails_in_one_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    env = {**base_env(tmp_path), "ARTIFACTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/a-file/m.db"}

    result = run_artifactsvc(command, env=env, cwd=tmp_path, timeout=20)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
