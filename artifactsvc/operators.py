"""What an operator at the service's host reads through the API's own services.

`artifactsvc ls` and `cat` go through the listing and single-file services the API's
`artifacts_tree` and file routes use, as OPERATOR: an administrator, since whoever can run
commands with the service's settings can read its database and bucket anyway. So they see
what an administrator sees through the API (an artifact whose accessibility is `none` stays
unreadable, as it does for GitLab's administrators), resolve a project by id or full path
the same way, and cost what those routes cost (one ranged read for a file, the stored index
for a listing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from artifactsvc.access import Principal
from artifactsvc.auth import AuthService
from artifactsvc.errors import FolderNotFound
from artifactsvc.files import FileService, MemberFile
from artifactsvc.listing import TreeEntry
from artifactsvc.models import User
from artifactsvc.paths import validate_artifact_path, validate_directory

OPERATOR = Principal(
    user=User(
        id=0,
        username="operator",
        name="artifactsvc command line",
        email="",
        admin=True,
        state="active",
        created_at=None,
    ),
    scopes=frozenset({"api", "read_api"}),
)

# A listing is read in pages as the API serves it (each page one pass over the index).
PAGE = 1000


class OperatorReads:
    """Listings and files of a job's archive, for the command line."""

    def __init__(self, auth: AuthService, files: FileService) -> None:
        self._auth = auth
        self._files = files

    async def listing(self, project: str, job_id: int, folder: str) -> AsyncIterator[TreeEntry]:
        """The folder's children (files, symlinks, folders), by path; ProjectNotFound,
        JobNotFound, ArtifactNotFound, FolderNotFound (a folder the archive lacks), InvalidPath."""
        folder = validate_directory(folder)
        access = await self._auth.project_access(OPERATOR, project)
        offset = 0
        while True:
            page = await self._files.tree(
                access, job_id, folder, recursive=False, offset=offset, limit=PAGE
            )
            if offset == 0 and page.total == 0 and folder:
                # The API answers an empty page; a command line says what it could not find.
                raise FolderNotFound(folder)
            for entry in page.entries:
                yield entry
            offset += len(page.entries)
            if not page.entries or offset >= page.total:
                return

    async def file(self, project: str, job_id: int, path: str) -> MemberFile:
        """The regular file `path` of the job's archive, ready to stream; ArtifactNotFound
        when the archive lacks it."""
        path = validate_artifact_path(path)
        access = await self._auth.project_access(OPERATOR, project)
        return await self._files.file(access, job_id, path)
