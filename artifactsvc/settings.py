"""Settings: parsed once from the environment into a frozen object (CONTRACT section 2).

This is the only module that reads `os.environ`. Every invalid value raises `ConfigError`
with one line that names the variable, so start-up fails clearly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from artifactsvc.durations import parse_duration
from artifactsvc.errors import ConfigError

PREFIX = "ARTIFACTSVC_"
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}))$")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/artifactsvc.db"
    storage_url: str = "var/objects"
    s3_endpoint_url: str | None = None
    s3_connect_timeout: float = 5.0
    s3_read_timeout: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8080
    external_url: str = "http://127.0.0.1:8080"
    download_mode: str = "proxy"
    max_artifact_size: int = 104857600
    default_expire_in: int | None = 30 * 86400  # seconds; None means never
    keep_latest_artifacts: bool = True
    log_format: str = "text"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            value = env.get(PREFIX + name)
            return default if value is None or value == "" else value

        host = get("HOST", "127.0.0.1")
        if not _HOST.match(host):
            _fail("HOST", host, "an IP address or host name to listen on")
        port = _int("PORT", get("PORT", "8080"), low=1, high=65535)
        external_url = get("EXTERNAL_URL", f"http://{host}:{port}").rstrip("/")
        parts = urlsplit(external_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            _fail("EXTERNAL_URL", external_url, "an absolute http(s) URL")

        database_url = get("DATABASE_URL", "sqlite:///var/artifactsvc.db")
        if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            _fail("DATABASE_URL", database_url, "sqlite:///PATH or postgresql://...")

        storage_url = get("STORAGE_URL", "var/objects")
        if storage_url.startswith("s3://") and not urlsplit(storage_url).netloc:
            _fail("STORAGE_URL", storage_url, "s3://BUCKET[/PREFIX]")
        if "://" in storage_url and not storage_url.startswith(("s3://", "file:///")):
            _fail("STORAGE_URL", storage_url, "a directory, file:///PATH or s3://BUCKET[/PREFIX]")

        download_mode = get("DOWNLOAD_MODE", "proxy")
        if download_mode not in ("proxy", "redirect"):
            _fail("DOWNLOAD_MODE", download_mode, "proxy or redirect")
        if download_mode == "redirect" and not storage_url.startswith("s3://"):
            _fail("DOWNLOAD_MODE", download_mode, "proxy unless STORAGE_URL is s3://")

        log_format = get("LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            _fail("LOG_FORMAT", log_format, "text or json")

        expire_raw = get("DEFAULT_EXPIRE_IN", "30 days")
        try:
            default_expire_in = parse_duration(expire_raw)
        except ValueError:
            _fail("DEFAULT_EXPIRE_IN", expire_raw, 'a duration such as "30 days" or "never"')

        return cls(
            database_url=database_url,
            storage_url=storage_url,
            s3_endpoint_url=get("S3_ENDPOINT_URL", "") or None,
            s3_connect_timeout=_float("S3_CONNECT_TIMEOUT", get("S3_CONNECT_TIMEOUT", "5")),
            s3_read_timeout=_float("S3_READ_TIMEOUT", get("S3_READ_TIMEOUT", "30")),
            host=host,
            port=port,
            external_url=external_url,
            download_mode=download_mode,
            max_artifact_size=_int(
                "MAX_ARTIFACT_SIZE", get("MAX_ARTIFACT_SIZE", "104857600"), low=1, high=2**62
            ),
            default_expire_in=default_expire_in,
            keep_latest_artifacts=_bool(
                "KEEP_LATEST_ARTIFACTS", get("KEEP_LATEST_ARTIFACTS", "true")
            ),
            log_format=log_format,
        )


def _fail(name: str, value: str, expected: str) -> None:
    raise ConfigError(f"{PREFIX}{name}={value!r} is invalid: expected {expected}")


def _int(name: str, raw: str, *, low: int, high: int) -> int:
    text = raw.strip()
    # int() would also take "8_080" and non-ASCII digits: only plain decimal digits here.
    value = int(text) if text.isascii() and text.isdigit() else low - 1
    if not low <= value <= high:
        _fail(name, raw, f"an integer from {low} to {high}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        _fail(name, raw, "a number of seconds above 0")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    _fail(name, raw, "true or false")
    return False
