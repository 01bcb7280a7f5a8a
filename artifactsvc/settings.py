"""Settings: one table of every environment variable, parsed once into a frozen object.

`SETTINGS` is the only place a setting is described (CONTRACT section 2). Each row gives the
variable, its default written once as the text an operator would type, the parser that turns
such text into a value, and a help line. Everything else is derived from it: the defaults of
the `Settings` dataclass, `Settings.from_env`, `artifactsvc serve --help`, and README.md's
configuration table (`markdown_table`; a test keeps the README in step). So a documented
default is always the one in force, and a new setting is one new row plus its field.

This is the only module that reads `os.environ`. Every invalid value raises `ConfigError`
with one line that names the variable, so start-up fails clearly.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from artifactsvc.durations import parse_duration
from artifactsvc.errors import ConfigError

PREFIX = "ARTIFACTSVC_"
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}))$")


class _Invalid(ValueError):
    """A parser's refusal: the text it judged and what it expected instead."""

    def __init__(self, text: str, expected: str) -> None:
        super().__init__(f"{text!r}: expected {expected}")
        self.text = text
        self.expected = expected


@dataclass(frozen=True)
class Setting:
    """One row: the variable `ARTIFACTSVC_<name>`, read into the `Settings` field `name.lower()`.

    `default` is None when unset means None. It may name settings above it in braces
    (`http://{HOST}:{PORT}`); they are filled in with those settings' values.
    """

    name: str
    default: str | None
    parse: Callable[[str], Any]
    help: str

    @property
    def variable(self) -> str:
        return PREFIX + self.name

    @property
    def attribute(self) -> str:
        return self.name.lower()


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        digits = text.strip()
        # int() would also take "8_080" and non-ASCII digits: only plain decimal digits here.
        if digits.isascii() and digits.isdigit() and low <= int(digits) <= high:
            return int(digits)
        raise _Invalid(text, f"an integer from {low} to {high}")

    return parse


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise _Invalid(text, " or ".join(choices))
        return text

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 3600:  # also false for nan
        raise _Invalid(text, "a number of seconds above 0")
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise _Invalid(text, "true or false")


def _duration(text: str) -> int | None:
    try:
        return parse_duration(text)
    except (ValueError, OverflowError):  # OverflowError: a number too large for a float
        raise _Invalid(text, 'a duration such as "30 days" or "never"') from None


def _cache_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 300:  # also false for nan
        raise _Invalid(text, "a number of seconds from 0 to 300")
    return value


def _secret(text: str) -> str:
    if len(text) < 32:
        raise _Invalid("<hidden>", "at least 32 characters")
    return text


def _session_ttl(text: str) -> int:
    seconds = _duration(text)
    if seconds is None or not 60 <= seconds <= 90 * 86400:
        raise _Invalid(text, "a duration from 1 minute to 90 days")
    return seconds


def _host(text: str) -> str:
    if not _HOST.match(text):
        raise _Invalid(text, "an IP address or host name to listen on")
    return text


def _netloc(url: str, *, schemes: tuple[str, ...]) -> str:
    """The URL's host part when its scheme is one of `schemes`, else ""."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed "[" in the host
        return ""
    return parts.netloc if parts.scheme in schemes else ""


def _http_url(text: str) -> str:
    url = text.rstrip("/")
    if not _netloc(url, schemes=("http", "https")):
        raise _Invalid(url, "an absolute http(s) URL")
    return url


def _forwarded_allow_ips(text: str) -> str:
    items = [item.strip() for item in text.split(",")]
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item)
        except ValueError:
            raise _Invalid(text, "comma-separated IP addresses or networks, or *") from None
    return ",".join(items)


def _database_url(text: str) -> str:
    if not text.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise _Invalid(text, "sqlite:///PATH or postgresql://...")
    return text


def _storage_url(text: str) -> str:
    if text.startswith("s3://") and not _netloc(text, schemes=("s3",)):
        raise _Invalid(text, "s3://BUCKET[/PREFIX]")
    if "://" in text and not text.startswith(("s3://", "file:///")):
        raise _Invalid(text, "a directory, file:///PATH or s3://BUCKET[/PREFIX]")
    return text


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        "sqlite:///var/artifactsvc.db",
        _database_url,
        "`sqlite:///rel.db`, `sqlite:////abs.db` or `postgresql://user:pass@host:5432/db`",
    ),
    Setting(
        "STORAGE_URL",
        "var/objects",
        _storage_url,
        "a directory, `file:///abs/path`, or `s3://BUCKET/OPTIONAL/PREFIX`",
    ),
    Setting(
        "S3_ENDPOINT_URL",
        None,
        str,
        "any S3-compatible endpoint (unset: AWS); credentials and region from `AWS_*`",
    ),
    Setting(
        "S3_CONNECT_TIMEOUT",
        "5",
        _seconds,
        "seconds to connect to object storage, per request",
    ),
    Setting(
        "S3_READ_TIMEOUT",
        "30",
        _seconds,
        "seconds to wait for object storage to answer; a hung store fails (503) within about"
        " 3 times this (three attempts)",
    ),
    Setting(
        "STORAGE_DEADLINE",
        None,
        _seconds,
        "seconds each storage call may take from the moment it is asked for (waiting for a"
        " storage thread included) to its answer, else 503 (unset: 3 times `S3_READ_TIMEOUT`)",
    ),
    Setting(
        "UPLOAD_PART_CONCURRENCY",
        "3",
        _integer(1, 16),
        "S3 parts (8 MiB each) an upload sends at once while it reads the next; an upload holds"
        " this many parts plus one in memory",
    ),
    Setting(
        "DOWNLOAD_BUFFER_BUDGET",
        "67108864",
        _integer(1 << 20, 1 << 40),
        "bytes all proxied downloads of a process hold read ahead together: a lone download"
        " reads 1 MiB at a time, and reads shrink (to 128 KiB) as more run at once",
    ),
    Setting(
        "MALLOC_ARENAS",
        "2",
        _integer(0, 1024),
        "glibc malloc arenas of a server process (`mallopt(M_ARENA_MAX)`, as the variable"
        " MALLOC_ARENA_MAX); download chunks freed across threads pile up in many arenas; 0:"
        " glibc's default",
    ),
    Setting("HOST", "127.0.0.1", _host, "listen address"),
    Setting("PORT", "8080", _integer(1, 65535), "listen port"),
    Setting(
        "EXTERNAL_URL",
        "http://{HOST}:{PORT}",
        _http_url,
        "base of every `web_url` and `Link` header",
    ),
    Setting(
        "DOWNLOAD_MODE",
        "proxy",
        _one_of("proxy", "redirect", "accel"),
        "`proxy` streams through the service; `redirect` (S3 only): archive downloads answer"
        " 302 to a presigned URL; `accel`: behind the nginx of `artifactsvc nginx-config`,"
        " archive downloads answer `X-Accel-Redirect` and nginx sends the bytes",
    ),
    Setting(
        "FORWARDED_ALLOW_IPS",
        "127.0.0.1",
        _forwarded_allow_ips,
        "comma-separated addresses or networks of the reverse proxies whose `X-Forwarded-For`"
        " and `X-Forwarded-Proto` are believed (uvicorn's `forwarded_allow_ips`); `*`: any",
    ),
    Setting(
        "MAX_ARTIFACT_SIZE",
        "104857600",
        _integer(1, 2**62),
        "bytes; larger uploads get 413 and leave nothing behind",
    ),
    Setting(
        "MAX_TRACE_SIZE",
        "104857600",
        _integer(1, 2**62),
        "bytes a job's log may reach (GitLab's `ci_jobs_trace_size_limit`, 100 MB); an append"
        " past it gets 403, is not stored, and fails the job (`trace_size_exceeded`)",
    ),
    Setting(
        "DEFAULT_EXPIRE_IN",
        "30 days",
        _duration,
        "when an upload gives no `expire_in`; `never` allowed",
    ),
    Setting(
        "KEEP_LATEST_ARTIFACTS",
        "true",
        _boolean,
        "the newest successful pipeline of each ref keeps its artifacts",
    ),
    Setting("LOG_FORMAT", "text", _one_of("text", "json"), "`text`, or `json` (one object a line)"),
    # -- the edge: what a connection or a request may hold before it is refused ----------------
    Setting(
        "JOB_UPDATE_MAX_BYTES",
        "16384",
        _integer(256, 2**20),
        "bytes of a `PUT /jobs/:id` body, read into memory (never to disk) before the `token` in"
        " it is checked; a larger body is 413",
    ),
    Setting(
        "UPLOAD_FORM_MAX_BYTES",
        "65536",
        _integer(1024, 2**24),
        "bytes of an upload's form outside the file's content (fields, part headers, boundaries);"
        " more is 400",
    ),
    Setting(
        "UPLOAD_FORM_MAX_PARTS",
        "16",
        _integer(1, 1000),
        "parts of an upload's form, the file and every field counted (a repeated name too);"
        " more is 400",
    ),
    Setting(
        "HTTP_HEADER_TIMEOUT",
        "10",
        _seconds,
        "seconds a connection has to send a request's line and headers, from its first byte (or"
        " from connecting); then it is closed",
    ),
    Setting(
        "HTTP_KEEPALIVE_TIMEOUT",
        "5",
        _integer(1, 3600),
        "seconds an idle keep-alive connection stays open (uvicorn's `timeout_keep_alive`)",
    ),
    Setting(
        "HTTP_MAX_HEADER_BYTES",
        "65536",
        _integer(1024, 2**24),
        "bytes of a request's line and headers; more is 431 and the connection is closed",
    ),
    Setting(
        "HTTP_MAX_CONNECTIONS",
        "1000",
        _integer(1, 1_000_000),
        "open connections per process; at the cap the longest-idle connection (keep-alive, or"
        " still sending its headers) is closed for a new one, which is refused (503) when every"
        " connection is busy",
    ),
    Setting(
        "SHUTDOWN_DRAIN",
        "5",
        _seconds,
        "seconds after SIGTERM the listener keeps accepting (readiness answers 503) even with"
        " nothing in flight",
    ),
    Setting(
        "SHUTDOWN_GRACE",
        "30",
        _seconds,
        "seconds after SIGTERM in-flight requests have to finish (the listener stays open for"
        " probes meanwhile); then they are aborted and the process exits 0",
    ),
    Setting(
        "AUTH_CACHE_TTL",
        "5",
        _cache_seconds,
        "seconds a personal token's user, a project and a membership, once found, are reused"
        " without asking the database; a revoked token, a blocked user or a changed role takes"
        " effect within it. `0`: no cache",
    ),
    Setting(
        "METRICS_TOKEN",
        None,
        str,
        "when set, `/metrics` requires `Authorization: Bearer <token>` (401 otherwise)",
    ),
    Setting(
        "OTLP_ENDPOINT",
        None,
        _http_url,
        "OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`): spans go to"
        " its `/v1/traces`; the SDK's `OTEL_*` variables (service name, sampler, batching,"
        " headers) apply. Unset: no tracing",
    ),
    # -- archives: index-time bounds, read budgets, the zip thread pools ----------------------
    Setting(
        "MAX_PATH_DEPTH",
        "128",
        _integer(1, 65535),
        "most `/`-separated segments an archive entry's name may have; an upload with a deeper"
        " entry is refused (400)",
    ),
    Setting(
        "MAX_NAME_BYTES",
        "4096",
        _integer(1, 65535),
        "longest archive entry name, in UTF-8 bytes (the longest path a file route accepts);"
        " an upload with a longer one is refused (400)",
    ),
    Setting(
        "LISTING_MAX_FOLDERS",
        "250000",
        _integer(1, 2**31),
        "most folders one listing may hold in memory (about 100 bytes each); a listing past it"
        " is refused (400: list a subfolder instead)",
    ),
    Setting(
        "INFLATE_BUDGET",
        "268435456",
        _integer(0, 2**62),
        "bytes one file read may inflate and throw away before its first byte (the part of a"
        " compressed member before a `Range` start); a read costing more is refused (400)",
    ),
    Setting(
        "SEEK_POINT_SPACING",
        "4194304",
        _integer(0, 2**40),
        "bytes between the seek points recorded at upload in large deflated members (each"
        " keeps a 32 KiB window, compressed): a `Range` deep into one inflates about this much;"
        " `0`: none",
    ),
    Setting(
        "INDEX_INFLATE_BUDGET",
        "4294967296",
        _integer(0, 2**62),
        "bytes one upload's index build may inflate to record seek points and check those"
        " members (about 15 s at 270 MB/s); members past it get none",
    ),
    Setting(
        "MEMBER_READ_THREADS",
        "8",
        _integer(1, 256),
        "threads that read and inflate single files out of archives",
    ),
    Setting("LISTING_THREADS", "2", _integer(1, 256), "threads that build listing pages"),
    Setting(
        "FOLDER_ZIP_THREADS",
        "2",
        _integer(1, 256),
        "threads that write folders as new zips (`artifacts_tree/archive`)",
    ),
    Setting(
        "INDEX_THREADS",
        "2",
        _integer(1, 256),
        "threads that build archive indexes (at upload, and lazy rebuilds); with"
        " `INDEX_PROCESSES`, each drives one worker process that does the build",
    ),
    Setting(
        "INDEX_PROCESSES",
        "true",
        _boolean,
        "build each index in a worker process (one per index thread at most, started when"
        " first needed), so a many-entry upload does not hold the interpreter lock every other"
        " request of this process needs; `false`: on the index threads themselves",
    ),
    # -- the web pages (artifactsvc/web, docs/web.md) ------------------------------------------
    Setting(
        "PAGES_URL",
        None,
        _http_url,
        "a separate origin (another host name for this service, as GitLab Pages) that serves"
        " HTML reports under a signed, 1-hour capability; unset: reports are served on this"
        " origin under `Content-Security-Policy: sandbox allow-scripts`",
    ),
    Setting(
        "SESSION_SECRET",
        None,
        _secret,
        "key that signs web session cookies, CSRF tokens and report capabilities (at least 32"
        " characters); unset: a random one per process, so sessions end at a restart and"
        " replicas must share one",
    ),
    Setting(
        "SESSION_TTL",
        "8 hours",
        _session_ttl,
        "how long a web sign-in lasts (the cookie's expiry, checked again on every request)",
    ),
)


def _resolve(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every setting's value by name, from `environ` or else from its default, in table order."""
    values: dict[str, Any] = {}
    for row in SETTINGS:
        text = environ.get(row.variable) or None  # set but empty counts as unset
        if text is None and row.default is not None:
            text = row.default.format_map(values)
        try:
            values[row.name] = None if text is None else row.parse(text)
        except _Invalid as error:
            raise _config_error(row.name, error.text, error.expected) from None
    return values


@functools.cache
def _defaults() -> dict[str, Any]:
    return _resolve({})


def _default(name: str) -> Callable[[], Any]:
    # A factory, so the defaults are parsed on first use rather than at import.
    return lambda: _defaults()[name]


@dataclass(frozen=True)
class Settings:
    """What the service runs with: one field per row of `SETTINGS`, defaults from its rows."""

    database_url: str = field(default_factory=_default("DATABASE_URL"))
    storage_url: str = field(default_factory=_default("STORAGE_URL"))
    s3_endpoint_url: str | None = field(default_factory=_default("S3_ENDPOINT_URL"))
    s3_connect_timeout: float = field(default_factory=_default("S3_CONNECT_TIMEOUT"))
    s3_read_timeout: float = field(default_factory=_default("S3_READ_TIMEOUT"))
    # None: 3 x s3_read_timeout (`storage_call_deadline`)
    storage_deadline: float | None = field(default_factory=_default("STORAGE_DEADLINE"))
    upload_part_concurrency: int = field(default_factory=_default("UPLOAD_PART_CONCURRENCY"))
    download_buffer_budget: int = field(default_factory=_default("DOWNLOAD_BUFFER_BUDGET"))
    malloc_arenas: int = field(default_factory=_default("MALLOC_ARENAS"))
    host: str = field(default_factory=_default("HOST"))
    port: int = field(default_factory=_default("PORT"))
    external_url: str = field(default_factory=_default("EXTERNAL_URL"))
    download_mode: str = field(default_factory=_default("DOWNLOAD_MODE"))
    forwarded_allow_ips: str = field(default_factory=_default("FORWARDED_ALLOW_IPS"))
    max_artifact_size: int = field(default_factory=_default("MAX_ARTIFACT_SIZE"))
    max_trace_size: int = field(default_factory=_default("MAX_TRACE_SIZE"))
    # seconds; None means never
    default_expire_in: int | None = field(default_factory=_default("DEFAULT_EXPIRE_IN"))
    keep_latest_artifacts: bool = field(default_factory=_default("KEEP_LATEST_ARTIFACTS"))
    log_format: str = field(default_factory=_default("LOG_FORMAT"))
    job_update_max_bytes: int = field(default_factory=_default("JOB_UPDATE_MAX_BYTES"))
    upload_form_max_bytes: int = field(default_factory=_default("UPLOAD_FORM_MAX_BYTES"))
    upload_form_max_parts: int = field(default_factory=_default("UPLOAD_FORM_MAX_PARTS"))
    http_header_timeout: float = field(default_factory=_default("HTTP_HEADER_TIMEOUT"))
    http_keepalive_timeout: int = field(default_factory=_default("HTTP_KEEPALIVE_TIMEOUT"))
    http_max_header_bytes: int = field(default_factory=_default("HTTP_MAX_HEADER_BYTES"))
    http_max_connections: int = field(default_factory=_default("HTTP_MAX_CONNECTIONS"))
    shutdown_drain: float = field(default_factory=_default("SHUTDOWN_DRAIN"))
    shutdown_grace: float = field(default_factory=_default("SHUTDOWN_GRACE"))
    # A secret: kept out of the dataclass's repr (tracebacks, logs).
    auth_cache_ttl: float = field(default_factory=_default("AUTH_CACHE_TTL"))
    metrics_token: str | None = field(default_factory=_default("METRICS_TOKEN"), repr=False)
    otlp_endpoint: str | None = field(default_factory=_default("OTLP_ENDPOINT"))
    max_path_depth: int = field(default_factory=_default("MAX_PATH_DEPTH"))
    max_name_bytes: int = field(default_factory=_default("MAX_NAME_BYTES"))
    listing_max_folders: int = field(default_factory=_default("LISTING_MAX_FOLDERS"))
    inflate_budget: int = field(default_factory=_default("INFLATE_BUDGET"))
    seek_point_spacing: int = field(default_factory=_default("SEEK_POINT_SPACING"))
    index_inflate_budget: int = field(default_factory=_default("INDEX_INFLATE_BUDGET"))
    member_read_threads: int = field(default_factory=_default("MEMBER_READ_THREADS"))
    listing_threads: int = field(default_factory=_default("LISTING_THREADS"))
    folder_zip_threads: int = field(default_factory=_default("FOLDER_ZIP_THREADS"))
    index_threads: int = field(default_factory=_default("INDEX_THREADS"))
    index_processes: bool = field(default_factory=_default("INDEX_PROCESSES"))
    pages_url: str | None = field(default_factory=_default("PAGES_URL"))
    # A secret: kept out of the dataclass's repr. None: the app makes a random one at start.
    session_secret: str | None = field(default_factory=_default("SESSION_SECRET"), repr=False)
    session_ttl: int = field(default_factory=_default("SESSION_TTL"))  # seconds

    @property
    def storage_call_deadline(self) -> float:
        """Seconds a storage call may take, queueing for a thread included."""
        if self.storage_deadline is not None:
            return self.storage_deadline
        return 3 * self.s3_read_timeout

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every row of `SETTINGS` read from `environ` (default `os.environ`), then checked
        against each other; the first invalid value raises `ConfigError`."""
        values = _resolve(os.environ if environ is None else environ)
        if values["DOWNLOAD_MODE"] == "redirect" and not values["STORAGE_URL"].startswith("s3://"):
            raise _config_error("DOWNLOAD_MODE", "redirect", "proxy unless STORAGE_URL is s3://")
        if values["SHUTDOWN_DRAIN"] > values["SHUTDOWN_GRACE"]:
            raise _config_error(
                "SHUTDOWN_DRAIN", str(values["SHUTDOWN_DRAIN"]), "at most SHUTDOWN_GRACE"
            )
        pages = values["PAGES_URL"]
        if pages is not None and _origin(pages) == _origin(values["EXTERNAL_URL"]):
            # A report's scripts must never share the pages' origin (docs/web.md).
            raise _config_error("PAGES_URL", pages, "an origin other than EXTERNAL_URL's")
        return cls(**{name.lower(): value for name, value in values.items()})


def markdown_table() -> str:
    """README.md's configuration table: a header, then one row per setting."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for row in SETTINGS:
        default = "unset" if row.default is None else f"`{row.default}`"
        lines.append(f"| `{row.variable}` | {default} | {row.help} |")
    return "\n".join(lines) + "\n"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _config_error(name: str, value: str, expected: str) -> ConfigError:
    return ConfigError(f"{PREFIX}{name}={value!r} is invalid: expected {expected}")
