"""`artifactsvc nginx-config` as an operator runs it: what it prints passes `nginx -t` for
every store and mode (a server block too, once included), and follows the settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from artifactsvc.__main__ import main
from artifactsvc.errors import ConfigError
from artifactsvc.settings import Settings
from tests.support.nginx import NGINX, have_nginx
from tests.support.processes import run_artifactsvc

pytestmark = pytest.mark.skipif(not have_nginx(), reason="needs Debian's nginx (/usr/sbin/nginx)")

MOTO_LIKE = {
    "ARTIFACTSVC_STORAGE_URL": "s3://bucket/ci",
    "ARTIFACTSVC_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
}
AWS = {"ARTIFACTSVC_STORAGE_URL": "s3://bucket"}
SECURE = {**AWS, "ARTIFACTSVC_S3_ENDPOINT_URL": "https://s3.example.com"}


def nginx_test(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "nginx.conf"
    conf.write_text(config)
    return subprocess.run(
        [
            NGINX,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(conf),
            "-g",
            f"pid {tmp_path}/t.pid; error_log stderr;",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., str]:
    """`artifactsvc nginx-config --listen 127.0.0.1:8081 --state-dir DIR ARGS` with `env`,
    through the command's own entry point, in this process (a process per case is slow)."""
    (tmp_path / "state").mkdir()
    monkeypatch.chdir(tmp_path)

    def run(env: dict[str, str], *args: str) -> str:
        with monkeypatch.context() as patched:
            for name in list(os.environ):
                if name.startswith("ARTIFACTSVC_"):
                    patched.delenv(name)
            for name, value in env.items():
                patched.setenv(name, value)
            state = ("--state-dir", str(tmp_path / "state"))
            code = main(["nginx-config", "--listen", "127.0.0.1:8081", *state, *args])
        printed = capsys.readouterr()
        assert code == 0, printed.err
        return printed.out

    return run


@pytest.mark.parametrize(
    ("env", "args"),
    [
        ({}, ()),
        ({"ARTIFACTSVC_DOWNLOAD_MODE": "accel"}, ()),
        ({**MOTO_LIKE, "ARTIFACTSVC_DOWNLOAD_MODE": "accel"}, ()),
        ({**AWS, "ARTIFACTSVC_DOWNLOAD_MODE": "accel"}, ("--resolver", "127.0.0.53")),
        ({**SECURE, "ARTIFACTSVC_DOWNLOAD_MODE": "accel"}, ("--resolver", "127.0.0.53")),
        ({**MOTO_LIKE, "ARTIFACTSVC_DOWNLOAD_MODE": "redirect"}, ()),
    ],
    ids=["files-proxy", "files-accel", "s3-ip-accel", "aws-accel", "https-accel", "s3-redirect"],
)
def test_the_printed_configuration_passes_nginx_t(
    tmp_path: Path, generated: Callable[..., str], env: dict[str, str], args: tuple[str, ...]
) -> None:
    config = generated(env, *args)
    checked = nginx_test(tmp_path, config)
    assert checked.returncode == 0, checked.stderr + config
    accel = env.get("ARTIFACTSVC_DOWNLOAD_MODE") == "accel"
    assert ("internal;" in config) is accel


def test_a_server_block_to_include_passes_nginx_t(
    tmp_path: Path, generated: Callable[..., str]
) -> None:
    block = generated({"ARTIFACTSVC_DOWNLOAD_MODE": "accel"}, "--server-only")
    assert "events" not in block and "http {" not in block
    (tmp_path / "artifactsvc.conf").write_text(block)
    config = "events {}\nhttp {\n    include artifactsvc.conf;\n}\n"
    checked = nginx_test(tmp_path, config)
    assert checked.returncode == 0, checked.stderr


def test_the_configuration_follows_the_settings(
    tmp_path: Path, generated: Callable[..., str]
) -> None:
    env = {
        "ARTIFACTSVC_HOST": "127.0.0.2",
        "ARTIFACTSVC_PORT": "9123",
        "ARTIFACTSVC_MAX_ARTIFACT_SIZE": "5000000",
        "ARTIFACTSVC_UPLOAD_FORM_MAX_BYTES": "2048",
        "ARTIFACTSVC_HTTP_KEEPALIVE_TIMEOUT": "20",
        "ARTIFACTSVC_HTTP_HEADER_TIMEOUT": "7",
        "ARTIFACTSVC_STORAGE_DEADLINE": "100",
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "blobs"),
        "ARTIFACTSVC_DOWNLOAD_MODE": "accel",
    }
    config = generated(env)
    assert "server 127.0.0.2:9123;" in config
    assert "client_max_body_size 5002048;" in config
    assert "keepalive_timeout 19s;" in config  # below the service's: no reuse of a closing one
    assert "client_header_timeout 7s;" in config
    assert "proxy_read_timeout 200s;" in config
    assert f"alias {tmp_path / 'blobs'}/;" in config
    assert re.search(r"proxy_request_buffering off;", config)
    assert re.search(r"proxy_buffering off;", config)


def test_s3_on_host_names_without_a_resolver_is_refused(tmp_path: Path) -> None:
    done = run_artifactsvc(
        "nginx-config", env={**AWS, "ARTIFACTSVC_DOWNLOAD_MODE": "accel"}, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "--resolver" in done.stderr
    assert done.stdout == ""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_tls_on_the_listen_address_passes_nginx_t(
    tmp_path: Path, generated: Callable[..., str]
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=artifacts.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    tls = ("--ssl-certificate", str(cert), "--ssl-certificate-key", str(key))
    config = generated({}, *tls)
    assert "listen 127.0.0.1:8081 ssl;" in config
    checked = nginx_test(tmp_path, config)
    assert checked.returncode == 0, checked.stderr


def test_forwarded_allow_ips_takes_addresses_and_networks_only() -> None:
    env = {"ARTIFACTSVC_FORWARDED_ALLOW_IPS": "10.0.0.0/8, 127.0.0.1"}
    assert Settings.from_env(env).forwarded_allow_ips == "10.0.0.0/8,127.0.0.1"
    assert Settings.from_env({"ARTIFACTSVC_FORWARDED_ALLOW_IPS": "*"}).forwarded_allow_ips == "*"
    with pytest.raises(ConfigError, match="FORWARDED_ALLOW_IPS"):
        Settings.from_env({"ARTIFACTSVC_FORWARDED_ALLOW_IPS": "proxy.internal"})
