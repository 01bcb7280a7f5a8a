"""Choosing an object store from `ARTIFACTSVC_STORAGE_URL`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

from artifactsvc.errors import ConfigError
from artifactsvc.objects.filesystem import FilesystemObjectStore
from artifactsvc.objects.port import ObjectStore


def open_object_store(
    storage_url: str,
    *,
    endpoint_url: str | None,
    connect_timeout: float,
    read_timeout: float,
    deadline: float | None = None,
    part_concurrency: int | None = None,
    executor: ThreadPoolExecutor,
) -> ObjectStore:
    """A store for `storage_url`: a directory path, `file:///abs/path` or `s3://BUCKET/PREFIX`.

    Region and credentials for S3 come from boto3's own lookup (the `AWS_*` variables).
    """
    if "://" not in storage_url:
        if not storage_url:
            raise ConfigError("storage URL is empty")
        return FilesystemObjectStore(storage_url, executor=executor)
    parts = urlsplit(storage_url)
    if parts.query or parts.fragment:
        raise ConfigError(f"storage URL {storage_url!r} must not have a query or fragment")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigError(f"storage URL {storage_url!r} is not file:///ABSOLUTE/PATH")
        return FilesystemObjectStore(unquote(parts.path), executor=executor)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"storage URL {storage_url!r} is not s3://BUCKET[/PREFIX]")
        # Imported here so that a filesystem-only deployment never loads boto3.
        from artifactsvc.objects.s3 import S3ObjectStore

        try:
            return S3ObjectStore(
                parts.netloc,
                parts.path,
                executor=executor,
                endpoint_url=endpoint_url,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                deadline=deadline,
                **({} if part_concurrency is None else {"part_concurrency": part_concurrency}),
            )
        except ValueError as exc:
            raise ConfigError(f"storage URL {storage_url!r}: {exc}") from exc
    raise ConfigError(f"storage URL {storage_url!r}: unknown scheme {parts.scheme!r}")
