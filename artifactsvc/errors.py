"""Domain errors. None of them knows about HTTP; `api/errors.py` maps them to responses.

ArtifactsvcError
├── NotFound                  a thing the caller asked for does not exist (or is hidden)
│   ├── ProjectNotFound
│   ├── JobNotFound
│   ├── PipelineNotFound
│   ├── ArtifactNotFound      no live archive, or no such file inside it
│   └── ObjectNotFound        storage has no object under that key
├── Unauthenticated           no credentials where they are required
├── InvalidToken              credentials given but unknown, revoked or not running
├── Forbidden                 visible, but the caller may not do this
│   └── InvalidJobState       the job's state does not allow it ("Job is not retryable")
├── BadRequest                malformed input ("scope does not have a valid value")
│   ├── InvalidPath           an artifact path that can never name a file
│   └── InvalidArchive        an upload that is not a readable zip
├── PayloadTooLarge           an upload over the configured limit
├── RangeNotSatisfiable       a Range or Content-Range that does not fit
├── StorageError              object storage failed in a way retries did not cure
│   ├── StorageUnavailable    timeouts, refused connections, 5xx: try again later
│   └── ObjectChanged         the object no longer has the ETag a read was pinned to
├── CorruptArchive            a stored archive whose bytes contradict its own directory
├── MetadataUnavailable       the metadata store does not answer
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


class ObjectNotFound(NotFound):
    pass


class Unauthenticated(ArtifactsvcError):
    pass


class InvalidToken(ArtifactsvcError):
    pass


class Forbidden(ArtifactsvcError):
    pass


class InvalidJobState(Forbidden):
    pass


class BadRequest(ArtifactsvcError):
    """`field` set: GitLab's parameter-validation shape, `{"error": "<field> <message>"}`."""

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidPath(BadRequest):
    pass


class InvalidArchive(BadRequest):
    pass


class PayloadTooLarge(ArtifactsvcError):
    pass


class RangeNotSatisfiable(ArtifactsvcError):
    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for size {size}")
        self.size = size


class StorageError(ArtifactsvcError):
    pass


class StorageUnavailable(StorageError):
    pass


class ObjectChanged(StorageError):
    pass


class CorruptArchive(ArtifactsvcError):
    pass


class MetadataUnavailable(ArtifactsvcError):
    pass


class Conflict(ArtifactsvcError):
    pass


class ConfigError(ArtifactsvcError):
    pass
