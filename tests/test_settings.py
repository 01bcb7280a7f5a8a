"""Configuration (CONTRACT section 2): an invalid value stops `artifactsvc` at start-up with
one clear line naming the variable, and no server ever listens. The table in settings.py is
the one description of the settings: the dataclass, `serve --help` and README.md follow it."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from artifactsvc.settings import SETTINGS, Settings, markdown_table
from tests.support.processes import REPO, free_port, run_artifactsvc

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
    ("ARTIFACTSVC_EXTERNAL_URL", "http://[::1"),  # urlsplit raises on an unclosed "["
    ("ARTIFACTSVC_DATABASE_URL", "mysql://db/artifacts"),
    ("ARTIFACTSVC_STORAGE_URL", "gs://bucket"),
    ("ARTIFACTSVC_STORAGE_URL", "s3://"),
    ("ARTIFACTSVC_STORAGE_URL", "s3://[bucket"),
    ("ARTIFACTSVC_MAX_ARTIFACT_SIZE", "big"),
    ("ARTIFACTSVC_MAX_ARTIFACT_SIZE", "0"),
    ("ARTIFACTSVC_DEFAULT_EXPIRE_IN", "soon"),
    ("ARTIFACTSVC_DEFAULT_EXPIRE_IN", "9" * 400),  # beyond a float
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


def test_every_settings_field_is_a_row_of_the_table() -> None:
    fields = [field.name for field in dataclasses.fields(Settings)]

    assert fields == [row.attribute for row in SETTINGS]


def test_the_dataclass_defaults_are_the_table_defaults() -> None:
    assert Settings() == Settings.from_env({})


def test_the_external_url_defaults_to_the_listen_address() -> None:
    env = {"ARTIFACTSVC_HOST": "0.0.0.0", "ARTIFACTSVC_PORT": "9000"}

    assert Settings.from_env(env).external_url == "http://0.0.0.0:9000"


def test_the_readme_configuration_table_is_the_settings_table() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))

    # Regenerate: python -c 'from artifactsvc.settings import markdown_table as t; print(t())'
    assert table == markdown_table()


def test_serve_help_names_every_setting_with_its_default(tmp_path: Path) -> None:
    result = run_artifactsvc("serve", "--help", env={}, cwd=tmp_path, timeout=20)

    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    for row in SETTINGS:
        default = "unset" if row.default is None else row.default
        assert f"{row.variable} (default: {default})" in [line.strip() for line in lines]
