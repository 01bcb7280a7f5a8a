"""Artifact files named by an import: stored through the same path as runner uploads.

Objects are written (and archives indexed) first; their rows then join the import's single
transaction. If anything fails, the objects written so far are deleted, so a bad file leaves
nothing behind. Rows an import replaces give up their old objects only after the commit.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator
from typing import BinaryIO

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.importing.fields import ImportError_
from artifactsvc.importing.plan import ImportPlan, PendingArtifact
from artifactsvc.models import Artifact
from artifactsvc.progress import Advance, ignore
from artifactsvc.uploads import FILE_TYPES, Upload
from artifactsvc.wiring import Runtime

CHUNK = 1024 * 1024


def _open_planned(pending: PendingArtifact) -> BinaryIO:
    """The file the plan checked: not a symlink, the same inode (else ImportError_)."""
    try:
        fd = os.open(pending.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise ImportError_(f"{pending.where}.path: cannot read: {error.strerror}") from None
    found = os.fstat(fd)
    if (found.st_dev, found.st_ino) != pending.identity:
        os.close(fd)
        raise ImportError_(f"{pending.where}.path: changed while importing")
    return os.fdopen(fd, "rb")


async def _file_chunks(pending: PendingArtifact, advance: Advance) -> AsyncIterator[bytes]:
    with _open_planned(pending) as handle:
        while block := handle.read(CHUNK):
            yield block
            advance(len(block))


def _same(upload: Upload) -> Upload:
    return upload


def artifact_bytes(plan: ImportPlan) -> int:
    """What `import_with_artifacts` will read, as planned (for a progress bar's total)."""
    return sum(pending.path.stat().st_size for pending in plan.artifacts)


async def import_with_artifacts(
    runtime: Runtime, plan: ImportPlan, *, advance: Advance = ignore
) -> None:
    """Stores the plan's files (`advance(n)` after each `n` bytes read), then its rows."""
    written: list[Artifact] = []
    try:
        for pending in plan.artifacts:
            upload = Upload(
                file_type=pending.file_type,
                file_format=FILE_TYPES[pending.file_type][1],
                expire_in=None,
                # An import names no archive (its path is a local file): artifacts.zip.
                filename=None if pending.file_type == "archive" else pending.path.name,
                expire_at=pending.expire_at,
            )
            try:
                artifact = await runtime.uploads.write_objects(
                    pending.project_id,
                    pending.job_id,
                    functools.partial(_same, upload),
                    _file_chunks(pending, advance),
                )
            except (InvalidArchive, CorruptArchive) as error:
                raise ImportError_(f"{pending.where}.path: not a readable zip: {error}") from None
            written.append(artifact)
        replaced = [
            old
            for artifact in written
            for old in await runtime.store.artifacts.artifacts_of(artifact.job_id)
            if old.file_type == artifact.file_type
        ]
        plan.batch.artifacts.extend(written)
        await runtime.store.imports.import_batch(plan.batch)
    except BaseException:
        for artifact in written:
            await runtime.uploads.discard(artifact)
        raise
    for old in replaced:
        await runtime.uploads.discard(old)
