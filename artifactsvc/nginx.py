"""`artifactsvc nginx-config`: an nginx configuration for the settings in force (pure: text only).

The output is a complete `nginx.conf` (events and http blocks) for `nginx -c`, or with
`server_only` one `upstream` and one `server` block to `include` inside an existing `http {}`.
What it sets, and why:

- everything streams: `proxy_buffering off` (a download reaches the client as the service
  sends it, nothing spooled to disk) and `proxy_request_buffering off` (an upload reaches the
  service as the runner sends it, chunked or not), HTTP/1.1 with keep-alive to the service;
- `client_max_body_size` is MAX_ARTIFACT_SIZE plus the form around the file
  (UPLOAD_FORM_MAX_BYTES), so the service, not nginx, refuses a big upload with its own 413;
- timeouts follow the service's: the client's header timeout is HTTP_HEADER_TIMEOUT; idle
  connections to the service are dropped a second before the service's own keep-alive
  timeout would close them (else nginx may reuse a connection the service is closing: 502);
  and nginx waits for the service longer than the service waits for its storage;
- `X-Forwarded-For` (the client's address, overwritten: nginx is the edge) and
  `X-Forwarded-Proto`, believed by the service from FORWARDED_ALLOW_IPS only. `web_url`s and
  `Link` headers are built from EXTERNAL_URL, which must be nginx's public URL;
- DOWNLOAD_MODE=accel: the internal locations the service's `X-Accel-Redirect` answers point
  to (`ACCEL_FILES` for local files, sent with sendfile, ranges by nginx; `ACCEL_URL` for a
  presigned S3 URL, proxied unbuffered, the range the service chose sent as `Range`).

nginx keeps the service's Content-Type and Content-Disposition across an `X-Accel-Redirect`
(S3's are hidden), but not the rest: the internal locations put ours back (`add_header ...
$upstream_http_...`): ETag and Last-Modified (ours, not the file's or S3's; nginx's range
filter then checks `If-Range` against them), X-Request-Id, the security headers, and for a
slice of a stored member its Content-Range. A fetch that fails answers as the service would:
404 for a missing object, else 503, with GitLab's JSON message.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from artifactsvc.api.middleware import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from artifactsvc.settings import Settings

ACCEL_FILES = "/_accel/files/"
ACCEL_URL = "/_accel/url"
# The service's answer names what nginx fetches in these headers; nginx drops them.
URL_HEADER = "X-Artifactsvc-Accel-Url"
RANGE_HEADER = "X-Artifactsvc-Accel-Range"
PIN_HEADER = "X-Artifactsvc-Accel-If-Match"
CA_CERTIFICATES = "/etc/ssl/certs/ca-certificates.crt"  # Debian's ca-certificates bundle


@dataclass(frozen=True)
class NginxOptions:
    """What the settings do not say: where nginx listens, and about the machine it runs on.

    `storage_root`: the absolute directory of a local store (None on S3). `resolver`: a DNS
    server nginx asks for the presigned URLs' host (needed on S3 unless it is an IP address).
    `state_dir`: a directory for nginx's temporary files and access log (None: nginx's
    compiled-in paths, /var/lib/nginx and /var/log/nginx on Debian). `ssl_certificate` and
    `ssl_certificate_key`: TLS on the listen address (PEM files, as nginx takes them)."""

    listen: str = "0.0.0.0:80"
    server_only: bool = False
    storage_root: str | None = None
    resolver: str | None = None
    state_dir: str | None = None
    ssl_certificate: str | None = None
    ssl_certificate_key: str | None = None


class NginxConfigError(ValueError):
    """Settings and options that no configuration can serve; the message says what to give."""


def is_s3(settings: Settings) -> bool:
    return settings.storage_url.startswith("s3://")


def storage_directory(storage_url: str) -> str:
    """The directory of a local store's URL (a plain path, or `file:///abs/path`)."""
    if storage_url.startswith("file://"):
        return urlsplit(storage_url).path
    return storage_url


def needs_resolver(settings: Settings) -> bool:
    """Whether nginx fetches presigned URLs whose host it must resolve at request time."""
    if not is_s3(settings) or settings.download_mode != "accel":
        return False
    host = urlsplit(settings.s3_endpoint_url).hostname if settings.s3_endpoint_url else None
    if host is None:
        return True  # AWS: a bucket host name
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def render(settings: Settings, options: NginxOptions) -> str:
    """The configuration text; NginxConfigError when `options` lack what it needs."""
    if not is_s3(settings) and options.storage_root is None:
        raise NginxConfigError("a local store needs its directory (storage_root)")
    if (options.ssl_certificate is None) != (options.ssl_certificate_key is None):
        raise NginxConfigError("TLS needs both a certificate and its key")
    if needs_resolver(settings) and options.resolver is None:
        raise NginxConfigError(
            "presigned URLs name a host: give a DNS resolver nginx can ask (--resolver)"
        )
    blocks = _upstream(settings) + _server(settings, options)
    if options.server_only:
        return _header(settings) + "\n".join(blocks) + "\n"
    http = _http(options) + blocks
    lines = [
        "worker_processes auto;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        *_indent(http),
        "}",
    ]
    return _header(settings) + "\n".join(lines) + "\n"


def _header(settings: Settings) -> str:
    return (
        "# Generated by `artifactsvc nginx-config` from the ARTIFACTSVC_* settings in force\n"
        f"# (DOWNLOAD_MODE={settings.download_mode}); generate it again after changing them.\n"
    )


def _http(options: NginxOptions) -> list[str]:
    lines = [
        "default_type application/octet-stream;",
        "sendfile on;",
        "tcp_nopush on;",
        "server_tokens off;",
    ]
    if options.state_dir is not None:
        state = options.state_dir.rstrip("/")
        lines += [f"access_log {state}/access.log;"]
        lines += [
            f"{kind}_temp_path {state}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ]
    return [*lines, ""]


def _upstream(settings: Settings) -> list[str]:
    # nginx must give up an idle connection before the service closes it.
    idle = max(1, settings.http_keepalive_timeout - 1)
    host = settings.host
    if host in ("0.0.0.0", "::"):  # listening everywhere: reach it on loopback
        host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return [
        "upstream artifactsvc {",
        f"    server {host}:{settings.port};",
        "    keepalive 32;",
        f"    keepalive_timeout {idle}s;",
        "}",
        "",
    ]


def _server(settings: Settings, options: NginxOptions) -> list[str]:
    # A response waits on one storage call at a time (each bounded by STORAGE_DEADLINE), or on
    # the work that ends an upload (completing it, indexing the archive): wait longer than
    # the service would, so that its own 503 reaches the client rather than nginx's 504.
    wait = max(60, math.ceil(2 * settings.storage_call_deadline))
    body = settings.max_artifact_size + settings.upload_form_max_bytes
    tls = options.ssl_certificate is not None
    lines = [
        f"listen {options.listen}{' ssl' if tls else ''};",
        *(
            [
                f"ssl_certificate {options.ssl_certificate};",
                f"ssl_certificate_key {options.ssl_certificate_key};",
            ]
            if tls
            else []
        ),
        f"client_max_body_size {body};",
        f"client_header_timeout {math.ceil(settings.http_header_timeout)}s;",
        f"large_client_header_buffers 4 {max(8192, settings.http_max_header_bytes)};",
        "",
        "location / {",
        "    proxy_pass http://artifactsvc;",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-Host $host;",
        "    proxy_set_header X-Request-Id $request_id;  # the service logs and answers it",
        "    proxy_buffering off;",
        "    proxy_request_buffering off;",
        "    proxy_max_temp_file_size 0;",
        "    proxy_buffer_size 16k;  # the service's headers (a presigned URL in accel mode)",
        "    proxy_buffers 4 16k;",
        "    proxy_redirect off;",
        "    proxy_connect_timeout 5s;",
        f"    proxy_read_timeout {wait}s;",
        f"    proxy_send_timeout {wait}s;",
        "}",
    ]
    if settings.download_mode == "accel":
        lines += _accel(settings, options, wait)
    return ["server {", *_indent(lines), "}"]


def _our_headers() -> list[str]:
    # What the service's middleware adds to every answer, which nginx does not keep.
    security = [
        f'    add_header {name.decode()} "{value.decode()}";'
        for name, value in [
            *SECURITY_HEADERS,
            (b"Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ]
    ]
    return [
        "    add_header ETag $accel_etag;",
        "    add_header Last-Modified $accel_last_modified;",
        "    add_header X-Request-Id $accel_request_id;",
        *security,
    ]


def _captured() -> list[str]:
    # Read now: once this location proxies, $upstream_http_* name the new upstream's headers.
    return [
        "    set $accel_etag $upstream_http_etag;",
        "    set $accel_last_modified $upstream_http_last_modified;",
        "    set $accel_request_id $upstream_http_x_request_id;",
    ]


def _accel(settings: Settings, options: NginxOptions, wait: int) -> list[str]:
    if not is_s3(settings):
        root = (options.storage_root or "").rstrip("/")
        return [
            "",
            "# DOWNLOAD_MODE=accel, local files: the service answers X-Accel-Redirect here.",
            f"location {ACCEL_FILES} {{",
            "    internal;",
            f"    alias {root}/;",
            "    etag off;  # ours instead, below",
            "    if_modified_since off;  # conditionals were the service's to answer",
            "    max_ranges 1;  # as the service: one range, else the whole file",
            "    types { }",
            "    default_type application/octet-stream;",
            *_captured(),
            *_our_headers(),
            *_failures(),
            "}",
            *_failure_locations(),
        ]
    lines = [
        "",
        "# DOWNLOAD_MODE=accel, S3: the service answers X-Accel-Redirect here, naming a",
        f"# presigned URL ({URL_HEADER}) and the range to ask for ({RANGE_HEADER}).",
        f"location = {ACCEL_URL} {{",
        "    internal;",
        *_captured(),
        f"    set $accel_url $upstream_http_{_variable(URL_HEADER)};",
        f"    set $accel_range $upstream_http_{_variable(RANGE_HEADER)};",
        f"    set $accel_pin $upstream_http_{_variable(PIN_HEADER)};",
        "    set $accel_content_range $upstream_http_content_range;",
        "    proxy_pass $accel_url;",
        "    proxy_method GET;",
        "    proxy_http_version 1.1;",
        "    # The client's headers (its tokens above all) stay here: the URL carries the",
        "    # signature. The read stays pinned to the version the service resolved.",
        "    proxy_pass_request_headers off;",
        "    proxy_pass_request_body off;",
        "    proxy_intercept_errors on;  # S3's XML errors name the bucket: ours instead",
        "    proxy_set_header Range $accel_range;",
        "    proxy_set_header If-Match $accel_pin;",
        "    proxy_buffering off;",
        "    proxy_max_temp_file_size 0;",
        "    proxy_connect_timeout 5s;",
        f"    proxy_read_timeout {math.ceil(settings.s3_read_timeout)}s;",
        f"    proxy_send_timeout {wait}s;",
    ]
    lines += [
        f"    proxy_hide_header {name};"
        for name in (
            "ETag",
            "Last-Modified",
            "Content-Disposition",
            "Content-Type",  # ours was kept from the service's answer
            "Content-Range",  # of the archive, for a stored member: ours instead
            "Accept-Ranges",
            # S3's own: what AWS documents for GetObject, and moto's extras.
            "x-amz-request-id",
            "x-amz-id-2",
            "x-amz-version-id",
            "x-amz-server-side-encryption",
            "x-amz-expiration",
            "x-amz-storage-class",
            "x-amz-mp-parts-count",
            "x-amz-tagging-count",
            "x-amz-checksum-crc32",
            "x-amz-checksum-crc32c",
            "x-amz-checksum-crc64nvme",
            "x-amz-checksum-sha1",
            "x-amz-checksum-sha256",
            "x-amz-checksum-type",
            "x-amz-content-sha256",
            "x-amzn-requestid",
        )
    ]
    lines += [*_our_headers(), "    add_header Content-Range $accel_content_range;"]
    if options.resolver is not None:
        lines += [f"    resolver {options.resolver};"]
    endpoint = settings.s3_endpoint_url or "https://"
    if endpoint.startswith("https://"):
        lines += [
            "    proxy_ssl_server_name on;",
            "    proxy_ssl_verify on;",
            f"    proxy_ssl_trusted_certificate {CA_CERTIFICATES};",
        ]
    return [*lines, *_failures(), "}", *_failure_locations()]


def _failures() -> list[str]:
    # As the service answers when its own read fails: a missing object is 404, any other
    # failure (a changed version: 412 from S3, storage down, an expired URL) 503.
    others = "400 403 412 416 500 502 503 504"
    return [
        "    error_page 404 = @accel_missing;",
        f"    error_page {others} = @accel_unavailable;",
    ]


def _failure_locations() -> list[str]:
    return [
        "location @accel_missing {",
        "    default_type application/json;",
        """    return 404 '{"message":"404 Not Found"}';""",
        "}",
        "location @accel_unavailable {",
        "    default_type application/json;",
        """    return 503 '{"message":"503 Service Unavailable"}';""",
        "}",
    ]


def _variable(header: str) -> str:
    return header.lower().replace("-", "_")


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" if line else "" for line in lines]
