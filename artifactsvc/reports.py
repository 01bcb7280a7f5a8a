"""How the operators' commands print what they read: `usage` as a table on a terminal
(rich), as plain lines elsewhere (one record a line, fields two spaces apart, sizes in bytes:
for grep, awk and cron mail), or as one JSON document; `ls` as plain lines always (as ls(1)
does in a pipe, and a listing is for reading or piping alike).

No service is called here: each function gets what a service returned.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from typing import Any, TextIO

from artifactsvc.listing import TreeEntry
from artifactsvc.metadata import StoredArtifact, TypeUsage
from artifactsvc.models import format_time
from artifactsvc.usage import UsageReport


def _expiry(artifact: StoredArtifact) -> str:
    return format_time(artifact.expire_at) or "never"


def _artifact_line(artifact: StoredArtifact) -> str:
    return (
        f"{artifact.path_with_namespace}  job {artifact.job_id} {artifact.job_name}"
        f"  {artifact.file_type}  {artifact.size} bytes  {_expiry(artifact)}"
    )


def usage_plain(report: UsageReport, out: TextIO) -> None:
    days = report.window.days
    lines = ["stored, by project and artifact type:"]
    lines += [
        f"{row.path_with_namespace}  {row.file_type}  {row.artifacts} artifacts  {row.bytes} bytes"
        for row in report.by_type
    ] or ["(nothing)"]
    count = sum(row.artifacts for row in report.by_type)
    lines += [f"total  {count} artifacts  {report.total_bytes} bytes", ""]
    lines += ["largest archives:"]
    lines += [_artifact_line(artifact) for artifact in report.largest] or ["(none)"]
    lines += ["", f"expiring within {days} days:"]
    lines += [_artifact_line(artifact) for artifact in report.expiring] or ["(none)"]
    print("\n".join(lines), file=out)


def _type_json(row: TypeUsage) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "path_with_namespace": row.path_with_namespace,
        "file_type": row.file_type,
        "artifacts": row.artifacts,
        "bytes": row.bytes,
    }


def _artifact_json(artifact: StoredArtifact) -> dict[str, Any]:
    return {
        "project_id": artifact.project_id,
        "path_with_namespace": artifact.path_with_namespace,
        "job_id": artifact.job_id,
        "job_name": artifact.job_name,
        "file_type": artifact.file_type,
        "size": artifact.size,
        "expire_at": format_time(artifact.expire_at),
        "created_at": format_time(artifact.created_at),
    }


def usage_json(report: UsageReport, out: TextIO) -> None:
    body = {
        "project": report.project,
        "generated_at": format_time(report.now),
        "expiring_within_days": report.window.days,
        "total_bytes": report.total_bytes,
        "projects": [_type_json(row) for row in report.by_type],
        "largest": [_artifact_json(artifact) for artifact in report.largest],
        "expiring": [_artifact_json(artifact) for artifact in report.expiring],
    }
    print(json.dumps(body, indent=2), file=out)


def usage_table(report: UsageReport, out: TextIO) -> None:
    """The report as rich tables, sizes in human units (a terminal is read, not parsed)."""
    from rich.console import Console
    from rich.filesize import decimal
    from rich.table import Table

    console = Console(file=out)
    stored = Table(title="Stored, by project and artifact type", title_justify="left")
    stored.add_column("project")
    stored.add_column("type")
    stored.add_column("artifacts", justify="right")
    stored.add_column("size", justify="right")
    for row in report.by_type:
        stored.add_row(
            row.path_with_namespace, row.file_type, str(row.artifacts), decimal(row.bytes)
        )
    count = sum(row.artifacts for row in report.by_type)
    stored.add_section()
    stored.add_row("total", "", str(count), decimal(report.total_bytes), style="bold")
    console.print(stored)
    for title, artifacts in (
        ("Largest archives", report.largest),
        (f"Expiring within {report.window.days} days", report.expiring),
    ):
        table = Table(title=title, title_justify="left")
        for name in ("project", "job", "type"):
            table.add_column(name)
        table.add_column("size", justify="right")
        table.add_column("expires")
        for artifact in artifacts:
            table.add_row(
                artifact.path_with_namespace,
                f"{artifact.job_id} {artifact.job_name}",
                artifact.file_type,
                decimal(artifact.size),
                _expiry(artifact),
            )
        if not artifacts:
            table.add_row("(none)", "", "", "", "")
        console.print(table)


def listing_line(item: TreeEntry) -> str:
    """`MODE  SIZE  MTIME  PATH`, a folder's path ending in `/`; `-` for what a folder only
    deeper paths imply has not (no entry of its own)."""
    entry = item.entry
    folder = item.kind == "directory"
    mode = stat.filemode(entry.mode) if entry else "d?????????"
    size = "-" if folder or entry is None else str(entry.uncompressed_size)
    mtime = "-"
    if entry is not None:
        mtime = datetime.fromtimestamp(entry.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{mode}  {size:>10}  {mtime:20}  {item.path}{'/' if folder else ''}"
