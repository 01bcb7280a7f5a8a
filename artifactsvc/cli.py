"""What each `artifactsvc` command does, once settings are parsed (see __main__.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from artifactsvc.app import create_app
from artifactsvc.errors import (
    ArtifactNotFound,
    ArtifactsvcError,
    FolderNotFound,
    Forbidden,
    InvalidPath,
    JobNotFound,
    NotFound,
    ProjectNotFound,
)
from artifactsvc.importing import ImportError_, artifact_bytes, import_with_artifacts, plan_import
from artifactsvc.logs import command_result, configure
from artifactsvc.metadata import open_metadata_store
from artifactsvc.progress import on_terminal, progress
from artifactsvc.server.memory import limit_arenas
from artifactsvc.settings import Settings
from artifactsvc.tracing import command_span, open_tracing
from artifactsvc.wiring import build_runtime


def app_from_env() -> object:
    """uvicorn's factory for multi-worker serving: each worker builds its own app."""
    settings = Settings.from_env()
    configure(settings.log_format)
    limit_arenas(settings.malloc_arenas)
    return create_app(settings)


def serve(settings: Settings, *, host: str | None, port: int | None, workers: int) -> int:
    configure(settings.log_format)
    # Before any thread starts: arenas made earlier keep their memory.
    limit_arenas(settings.malloc_arenas)
    import asyncio

    from artifactsvc.server.shutdown import serve_app, serve_workers

    asyncio.run(migrate(settings))
    host = host or settings.host
    port = port or settings.port
    if workers > 1:
        return serve_workers(settings, host, port, workers)
    app = create_app(settings)
    return serve_app(app, app.state.lifecycle, settings, host, port)


async def migrate(settings: Settings, *, report: bool = False) -> int:
    # Traced as a command only when it is one (`serve` migrates first, untraced).
    tracing = open_tracing(settings) if report else None
    around = tracing.metadata if tracing is not None else None
    store = open_metadata_store(settings.database_url, around=around)
    try:
        with command_span(tracing, "migrate"):
            applied = await store.migrate()
            version = await store.schema_version()
    finally:
        store.close()
        if tracing is not None:
            tracing.shutdown()
    if report:
        done = ", ".join(map(str, applied)) if applied else "none"
        command_result(
            settings.log_format,
            "migrate",
            f"schema at version {version}; migrations applied now: {done}",
            schema_version=version,
            applied=list(applied),
        )
    return 0


async def import_file(settings: Settings, file: str) -> int:
    runtime = build_runtime(settings)
    try:
        await runtime.store.migrate()
        plan = await plan_import(Path(file), runtime.store)
        with progress(
            f"import {Path(file).name}",
            stream=sys.stderr,
            log_format=settings.log_format,
            total=artifact_bytes(plan),
            in_bytes=True,
        ) as advance:
            await import_with_artifacts(runtime, plan, advance=advance)
    except ImportError_ as error:
        print(f"artifactsvc import: {file}: {error}", file=sys.stderr)
        return 1
    except ArtifactsvcError as error:
        print(f"artifactsvc import: {file}: {describe(error)}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    batch = plan.batch
    print(
        f"imported {len(batch.users)} users, {len(batch.projects)} projects, "
        f"{len(batch.pipelines)} pipelines, {len(batch.jobs)} jobs, "
        f"{len(plan.artifacts)} artifacts"
    )
    return 0


def describe(error: ArtifactsvcError) -> str:
    names = {
        "InvalidArchive": "not a readable zip archive",
        "CorruptArchive": "damaged zip archive",
        "StorageUnavailable": "object storage unavailable",
        "MetadataUnavailable": "metadata store unavailable",
    }
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    label = names.get(type(error).__name__, type(error).__name__)
    return f"{label}: {detail}" if detail else label


async def expire(settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        await runtime.store.migrate()
        with (
            command_span(runtime.tracing, "expire"),
            progress(
                "expire", stream=sys.stderr, log_format=settings.log_format, unit="artifacts"
            ) as advance,
        ):
            report = await runtime.housekeeping.expire(advance=advance)
    except ArtifactsvcError as error:
        message = f"artifactsvc expire: {describe(error)}"
        command_result(settings.log_format, "expire", message, failed=True)
        return 1
    finally:
        runtime.close()
    command_result(
        settings.log_format,
        "expire",
        f"expired {report.deleted} artifacts ({report.bytes} bytes);"
        f" {report.failed} objects left for gc",
        deleted=report.deleted,
        bytes=report.bytes,
        failed_objects=report.failed,
    )
    return 0


async def gc(settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        await runtime.store.migrate()
        with (
            command_span(runtime.tracing, "gc"),
            progress(
                "gc", stream=sys.stderr, log_format=settings.log_format, unit="objects checked"
            ) as advance,
        ):
            orphans, aborted = await runtime.housekeeping.gc(advance=advance)
    except ArtifactsvcError as error:
        command_result(settings.log_format, "gc", f"artifactsvc gc: {describe(error)}", failed=True)
        return 1
    finally:
        runtime.close()
    command_result(
        settings.log_format,
        "gc",
        f"removed {orphans} orphaned objects; aborted {aborted} stale uploads",
        orphans=orphans,
        aborted_uploads=aborted,
    )
    return 0


def _failed(command: str, error: ArtifactsvcError, missing: dict[type, str]) -> int:
    """One line on stderr naming what went wrong. Exit status 1 for what is not there
    (`missing`: what to call each kind of NotFound), 2 for an argument no archive can match
    (a usage error, as argparse's), 1 for the rest (a store unreachable, a forbidden read)."""
    if isinstance(error, NotFound):
        what = next((text for kind, text in missing.items() if isinstance(error, kind)), None)
        print(f"artifactsvc {command}: {what or describe(error)}", file=sys.stderr)
        return 1
    if isinstance(error, InvalidPath):
        print(f"artifactsvc {command}: not a valid archive path", file=sys.stderr)
        return 2
    if isinstance(error, Forbidden):
        print(f"artifactsvc {command}: forbidden (artifact accessibility)", file=sys.stderr)
        return 1
    print(f"artifactsvc {command}: {describe(error)}", file=sys.stderr)
    return 1


def _missing(
    project: str, job_id: int | None = None, *, file: str | None = None, folder: str = ""
) -> dict[type, str]:
    found: dict[type, str] = {ProjectNotFound: f"project not found: {project}"}
    if job_id is not None:
        found[JobNotFound] = f"job {job_id} not found in {project}"
        found[FolderNotFound] = f"no folder {folder!r} in job {job_id}'s archive"
        # The file routes say ArtifactNotFound for a missing archive and a missing member.
        found[ArtifactNotFound] = (
            f"no file {file!r} in job {job_id}'s archive (or no archive)"
            if file is not None
            else f"job {job_id} has no archive"
        )
    return found


async def usage(settings: Settings, project: str | None, *, top: int, as_json: bool) -> int:
    from artifactsvc import reports

    runtime = build_runtime(settings)
    try:
        await runtime.store.migrate()
        report = await runtime.usage.report(project, top=top)
    except ArtifactsvcError as error:
        return _failed("usage", error, _missing(project or ""))
    finally:
        runtime.close()
    if as_json:
        reports.usage_json(report, sys.stdout)
    elif on_terminal(sys.stdout, "text"):
        reports.usage_table(report, sys.stdout)
    else:
        reports.usage_plain(report, sys.stdout)
    return 0


async def ls(settings: Settings, project: str, job_id: int, folder: str) -> int:
    from artifactsvc.reports import listing_line

    runtime = build_runtime(settings)
    try:
        await runtime.store.migrate()
        # Printed as pages arrive: a folder of a million files starts at once, in bounded
        # memory.
        async for item in runtime.operators.listing(project, job_id, folder):
            print(listing_line(item))
        sys.stdout.flush()
    except ArtifactsvcError as error:
        return _failed("ls", error, _missing(project, job_id, folder=folder))
    except BrokenPipeError:
        return _reader_gone()
    finally:
        runtime.close()
    return 0


async def cat(settings: Settings, project: str, job_id: int, path: str) -> int:
    runtime = build_runtime(settings)
    out = sys.stdout.buffer
    try:
        await runtime.store.migrate()
        member = await runtime.operators.file(project, job_id, path)
        # Streamed as it is inflated (and CRC-checked: a damaged member fails before its
        # last chunk), never held whole.
        async for chunk in member.read():
            out.write(chunk)
        out.flush()
    except ArtifactsvcError as error:
        return _failed("cat", error, _missing(project, job_id, file=path))
    except BrokenPipeError:
        return _reader_gone()
    finally:
        runtime.close()
    return 0


def _reader_gone() -> int:
    """stdout's reader stopped (`| head`): what it wanted it got, so success, quietly. stdout
    is pointed at /dev/null so the interpreter's own flush at exit does not fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def nginx_config(
    settings: Settings,
    *,
    listen: str,
    server_only: bool,
    resolver: str | None,
    state_dir: str | None,
    ssl_certificate: str | None = None,
    ssl_certificate_key: str | None = None,
) -> int:
    from artifactsvc.nginx import NginxConfigError, NginxOptions, is_s3, render, storage_directory

    root = None if is_s3(settings) else os.path.abspath(storage_directory(settings.storage_url))
    options = NginxOptions(
        listen=listen,
        server_only=server_only,
        storage_root=root,
        resolver=resolver,
        state_dir=None if state_dir is None else os.path.abspath(state_dir),
        ssl_certificate=ssl_certificate,
        ssl_certificate_key=ssl_certificate_key,
    )
    try:
        print(render(settings, options), end="")
    except NginxConfigError as error:
        print(f"artifactsvc nginx-config: {error}", file=sys.stderr)
        return 2
    return 0
