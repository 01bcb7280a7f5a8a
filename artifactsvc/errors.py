"""Domain errors. None of them knows about HTTP, statuses or API parameter names:
`api/errors.py` is the one table that maps them to GitLab's responses.

ArtifactsvcError
├── NotFound                  a thing the caller asked for does not exist (or is hidden)
│   ├── ProjectNotFound
│   ├── JobNotFound
│   ├── PipelineNotFound
│   ├── ArtifactNotFound      no live archive, or no such file inside it
│   │   └── NoArchiveToList   a listing of a job that has no live archive
│   ├── TokenJobNotFound      `GET /job` called without a job token
│   ├── FolderNotFound        a listing of a folder the archive does not hold
│   └── ObjectNotFound        storage has no object under that key
├── Unauthenticated           no credentials where they are required
├── InvalidToken              credentials given but unknown, revoked or not running
├── InsufficientScope         a token without the scope the request needs (read_api writing)
├── SudoUserNotFound          `sudo` names no user
├── Forbidden                 visible, but the caller may not do this
│   ├── JobTokenOutOfScope    a job token outside its allowlist (or its user's reach)
│   ├── SudoNotAllowed        `sudo` from someone who is not an administrator
│   ├── InvalidJobState       the job's state does not allow it
│   │   ├── JobNotRetryable
│   │   └── JobNotErasable
│   ├── JobNotProcessing      a runner call for a job neither running nor canceling
│   ├── JobErased             a runner call for an erased job
│   └── TraceSizeExceeded     a log append past MAX_TRACE_SIZE (the job is failed)
├── InvalidInput              input that can never succeed, whatever is stored
│   ├── InvalidPath           an artifact path that can never name a file
│   ├── InvalidArchive        an upload that is not a readable zip
│   ├── UnknownArtifactType
│   ├── UnknownArtifactFormat
│   ├── ArtifactFormatMismatch  a format the type is never stored in
│   ├── AlreadyUploaded       the job already has other bytes for that type
│   ├── InvalidDotenv         a dotenv report GitLab's parser refuses (the reason said)
│   ├── UnknownAccessibility  an accessibility level GitLab does not know
│   ├── UnplayableJob
│   ├── MissingJobName        a by-ref lookup without the job's name
│   ├── ListingTooLarge       a listing page too far into one folder
│   ├── TooManyFolders        a listing holding more folders than its bound
│   ├── InflateBudgetExceeded a file read that would inflate too much before its first byte
│   └── UnstorableValue       a value the metadata database cannot hold (NUL in text)
├── ArtifactTooLarge          an upload over the configured limit
├── MemberRangeOutside        a byte range that starts past the end of a member
├── TraceOffsetMismatch       a trace append that does not start at the current size
├── StorageError              object storage failed in a way retries did not cure
│   ├── StorageUnavailable    timeouts, refused connections, 5xx: try again later
│   │   └── StorageTimeout    no answer within the storage deadline (waiting for a thread
│   │                         included)
│   └── ObjectChanged         the object no longer has the ETag a read was pinned to
├── CorruptArchive            a stored archive whose bytes contradict its own directory
│   └── DamagedArchive        stored bytes that contradict the archive's own directory (a
│                             member's CRC, sizes, codec data, local header; a directory
│                             a lazy rebuild cannot parse): the same answer on every read
├── MetadataUnavailable       the metadata store does not answer
├── IndexWorkerLost           the process building an index exited before it answered
├── Conflict                  a write that contradicts stored rows (a taken username)
└── ConfigError               invalid settings (start-up only)
"""

from __future__ import annotations


class ArtifactsvcError(Exception):
    """Base of every error this service raises on purpose."""


class NotFound(ArtifactsvcError):
    pass


class ProjectNotFound(NotFound):
    pass


class JobNotFound(NotFound):
    pass


class PipelineNotFound(NotFound):
    pass


class ArtifactNotFound(NotFound):
    pass


class TokenJobNotFound(NotFound):
    """`GET /job` without a job token: no job to show."""


class NoArchiveToList(ArtifactNotFound):
    pass


class FolderNotFound(NotFound):
    pass


class ObjectNotFound(NotFound):
    pass


class Unauthenticated(ArtifactsvcError):
    pass


class InvalidToken(ArtifactsvcError):
    pass


class InsufficientScope(ArtifactsvcError):
    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


class SudoUserNotFound(ArtifactsvcError):
    def __init__(self, identifier: str) -> None:
        super().__init__(identifier)
        self.identifier = identifier


class Forbidden(ArtifactsvcError):
    pass


class JobTokenOutOfScope(Forbidden):
    def __init__(self, source_path: str, target_path: str) -> None:
        super().__init__(f"{source_path} -> {target_path}")
        self.source_path = source_path
        self.target_path = target_path


class SudoNotAllowed(Forbidden):
    pass


class InvalidJobState(Forbidden):
    pass


class JobNotRetryable(InvalidJobState):
    pass


class JobNotErasable(InvalidJobState):
    pass


class JobNotProcessing(Forbidden):
    """Carries the job's status: a runner reads it to stop the job it is still running."""

    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status


class JobErased(Forbidden):
    pass


class TraceSizeExceeded(Forbidden):
    """GitLab's plain `403 Forbidden` (AppendBuildTraceService), after failing the job."""


class InvalidInput(ArtifactsvcError):
    pass


class InvalidPath(InvalidInput):
    pass


class InvalidArchive(InvalidInput):
    pass


class UnknownArtifactType(InvalidInput):
    pass


class UnknownArtifactFormat(InvalidInput):
    pass


class ArtifactFormatMismatch(InvalidInput):
    pass


class AlreadyUploaded(InvalidInput):
    pass


class InvalidDotenv(InvalidInput):
    """The message is GitLab's reason, shown to the caller as it is."""


class UnknownAccessibility(InvalidInput):
    pass


class UnplayableJob(InvalidInput):
    pass


class MissingJobName(InvalidInput):
    pass


class ListingTooLarge(InvalidInput):
    pass


class TooManyFolders(InvalidInput):
    pass


class InflateBudgetExceeded(InvalidInput):
    pass


class UnstorableValue(InvalidInput):
    pass


class ArtifactTooLarge(ArtifactsvcError):
    pass


class _SizedMismatch(ArtifactsvcError):
    """Carries the size the request should have fitted."""

    def __init__(self, size: int) -> None:
        super().__init__(f"does not fit size {size}")
        self.size = size


class MemberRangeOutside(_SizedMismatch):
    pass


class TraceOffsetMismatch(_SizedMismatch):
    pass


class StorageError(ArtifactsvcError):
    pass


class StorageUnavailable(StorageError):
    pass


class StorageTimeout(StorageUnavailable):
    pass


class ObjectChanged(StorageError):
    pass


class CorruptArchive(ArtifactsvcError):
    pass


class DamagedArchive(CorruptArchive):
    """Deterministic for a given archive version (reads are pinned to its ETag), so it is a
    4xx that names the damage, not a 500 that every retry meets again."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"damaged zip archive: {detail}")
        self.detail = detail


class MetadataUnavailable(ArtifactsvcError):
    pass


class IndexWorkerLost(ArtifactsvcError):
    """The worker process building an index exited mid-build (killed, out of memory): the
    archive may be fine, so a retry may succeed."""


class Conflict(ArtifactsvcError):
    pass


class ConfigError(ArtifactsvcError):
    pass
