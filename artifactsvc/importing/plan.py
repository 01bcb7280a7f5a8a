"""`artifactsvc import FILE.json` (CONTRACT section 3), first step: the whole file validated
into domain records. A bad file imports nothing; the error names the first bad field, as
`jobs[1].status: ...`. References may point into the same file or at rows already stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from artifactsvc.auth import hash_token
from artifactsvc.importing.fields import Fields, ImportError_, section
from artifactsvc.metadata import ImportBatch, Membership, MetadataStore
from artifactsvc.models import (
    JOB_STATUSES,
    TOKEN_SCOPES,
    VISIBILITIES,
    Job,
    Pipeline,
    Project,
    User,
)

ACCESS_LEVELS = (10, 20, 30, 40, 50)
PIPELINE_STATUSES = (*JOB_STATUSES, "waiting_for_callback")
FILE_TYPES = ("archive", "metadata", "trace", "junit")


@dataclass(frozen=True)
class PendingArtifact:
    """An artifact file the import names; stored through the upload path after validation."""

    job_id: int
    project_id: int
    file_type: str
    path: Path
    expire_at: datetime | None
    where: str = ""
    # (st_dev, st_ino) when planned: store.py opens that file and no other (a path swapped
    # for a symlink meanwhile is refused).
    identity: tuple[int, int] = (0, 0)


@dataclass
class ImportPlan:
    batch: ImportBatch
    artifacts: list[PendingArtifact] = field(default_factory=list)


async def plan_import(path: Path, store: MetadataStore) -> ImportPlan:
    """Validates the whole file into an ImportPlan; ImportError_ names the first bad field."""
    document = _read(path)
    planner = _Planner(store, path.parent)
    for index, raw in enumerate(section(document, "users")):
        planner.user(Fields(f"users[{index}]", raw))
    for index, raw in enumerate(section(document, "projects")):
        await planner.project(Fields(f"projects[{index}]", raw))
    for index, raw in enumerate(section(document, "pipelines")):
        await planner.pipeline(Fields(f"pipelines[{index}]", raw))
    for index, raw in enumerate(section(document, "jobs")):
        await planner.job(Fields(f"jobs[{index}]", raw))
    return planner.plan


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        raise ImportError_(f"{path}: cannot read: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ImportError_(f"{path}: not valid JSON: {error}") from None
    except RecursionError:
        raise ImportError_(f"{path}: not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise ImportError_("(top level): must be an object")
    unknown = set(document) - {"users", "projects", "pipelines", "jobs"}
    if unknown:
        raise ImportError_(f"{sorted(unknown)[0]}: unknown section")
    return document


class _Planner:
    """Turns each object of the file into domain records, in file order, resolving names and
    ids against what the file defined so far and then against what is stored."""

    def __init__(self, store: MetadataStore, base: Path) -> None:
        self._store = store
        self._base = base.resolve()
        self.plan = ImportPlan(ImportBatch())
        self._batch = self.plan.batch
        self._usernames: dict[str, int] = {}
        self._token_owners: dict[str, str] = {}  # token digest -> the field that first named it
        self._project_ids: set[int] = set()
        self._pipeline_projects: dict[int, int] = {}

    def _claim_token(self, token: str, where: str) -> str:
        digest = hash_token(token)
        if self._token_owners.setdefault(digest, where) != where:
            raise ImportError_(f"{where}: is already used by {self._token_owners[digest]}")
        return digest

    async def _user_id(self, fields: Fields, key: str, username: str) -> int:
        if username in self._usernames:
            return self._usernames[username]
        found = await self._store.identities.user_by_username(username)
        if found is None:
            raise fields.fail(key, "unknown user")
        return found.id

    def user(self, f: Fields) -> None:
        user_id = f.ident()
        username = f.text("username", required=True)
        if self._usernames.get(username, user_id) != user_id:
            raise f.fail("username", "is taken by another user in this file")
        self._usernames[username] = user_id
        self._batch.users.append(
            User(
                id=user_id,
                username=username,
                name=f.text("name", username),
                email=f.text("email", ""),
                admin=bool(f.get("admin", bool, False)),
                state=f.choice("state", ("active", "blocked"), "active"),
                created_at=f.time("created_at"),
            )
        )
        for t_index, item in enumerate(f.items("tokens")):
            token, scopes = self._token(f"{f.where}.tokens[{t_index}]", item)
            self._batch.tokens.append((token, user_id, scopes))

    def _token(self, where: str, item: Any) -> tuple[str, tuple[str, ...]]:
        """A token given in clear (scope `api`) or as {"token": ..., "scopes": [...]}; its
        digest, claimed for this field, and its scopes."""
        scopes: tuple[str, ...] = ("api",)
        if isinstance(item, dict):
            t = Fields(where, item)
            unknown = set(item) - {"token", "scopes"}
            if unknown:
                raise t.fail(sorted(unknown)[0], "unknown field")
            item = t.text("token", required=True)
            given = t.items("scopes") if "scopes" in t.data else ["api"]
            if not given or any(scope not in TOKEN_SCOPES for scope in given):
                raise t.fail("scopes", f"must be a non-empty list of {', '.join(TOKEN_SCOPES)}")
            scopes = tuple(dict.fromkeys(given))
            where = f"{where}.token"
        if not isinstance(item, str) or not item:
            raise ImportError_(f"{where}: must be a non-empty string")
        return self._claim_token(item, where), scopes

    async def project(self, f: Fields) -> None:
        project_id = f.ident()
        full_path = f.text("path_with_namespace", required=True)
        segments = full_path.split("/")
        if len(segments) < 2 or any(not s or s in (".", "..") or s.strip() != s for s in segments):
            raise f.fail("path_with_namespace", "must look like group/project")
        self._project_ids.add(project_id)
        self._batch.projects.append(
            Project(
                id=project_id,
                path_with_namespace=full_path,
                name=f.text("name", segments[-1]),
                visibility=f.choice("visibility", VISIBILITIES, "private"),
                description=f.text("description"),
                default_branch=f.text("default_branch", "main"),
                created_at=f.time("created_at"),
                public_builds=bool(f.get("public_builds", bool, True)),
            )
        )
        for m_index, member in enumerate(f.items("members")):
            m = Fields(f"{f.where}.members[{m_index}]", member)
            user_id = await self._user_id(m, "username", m.text("username", required=True))
            level = m.choice("access_level", ACCESS_LEVELS, 30)
            self._batch.members.append(Membership(project_id, user_id, level))
        for a_index, allowed in enumerate(f.items("ci_job_token_allowlist")):
            if isinstance(allowed, bool) or not isinstance(allowed, int) or not 0 < allowed < 2**63:
                raise ImportError_(
                    f"{f.where}.ci_job_token_allowlist[{a_index}]: must be a project id"
                )
            self._batch.allowlist.append((project_id, allowed))

    async def pipeline(self, f: Fields) -> None:
        pipeline_id = f.ident()
        project_id = f.ident("project_id")
        if (
            project_id not in self._project_ids
            and await self._store.projects.project(project_id) is None
        ):
            raise f.fail("project_id", "unknown project")
        parent = f.ident("parent_pipeline_id", required=False)
        if (
            parent is not None
            and await self._project_of_pipeline(f, parent, key="parent_pipeline_id") != project_id
        ):
            raise f.fail("parent_pipeline_id", "must be a pipeline of the same project")
        username = f.text("user")
        commit = f.get("commit", dict)
        coverage = f.get("coverage", (int, float, str))
        self._pipeline_projects[pipeline_id] = project_id
        self._batch.pipelines.append(
            Pipeline(
                id=pipeline_id,
                iid=f.ident("iid", required=False) or pipeline_id,
                project_id=project_id,
                ref=f.text("ref", required=True),
                tag=bool(f.get("tag", bool, False)),
                sha=f.text("sha", ""),
                status=f.choice("status", PIPELINE_STATUSES, "success"),
                # A child pipeline's source is always parent_pipeline, as in GitLab.
                source="parent_pipeline" if parent else f.text("source", "push"),
                created_at=f.time("created_at"),
                updated_at=f.time("updated_at"),
                commit=commit,
                user_id=await self._user_id(f, "user", username) if username else None,
                name=f.text("name"),
                before_sha=f.text("before_sha"),
                yaml_errors=f.text("yaml_errors"),
                started_at=f.time("started_at"),
                finished_at=f.time("finished_at"),
                committed_at=f.time("committed_at"),
                duration=f.seconds("duration"),
                queued_duration=f.seconds("queued_duration"),
                coverage=str(coverage) if coverage is not None else None,
                parent_pipeline_id=parent,
            )
        )

    async def _project_of_pipeline(
        self, f: Fields, pipeline_id: int, *, key: str = "pipeline_id"
    ) -> int:
        project_id = self._pipeline_projects.get(pipeline_id)
        if project_id is not None:
            return project_id
        stored = await self._store.jobs.pipeline_by_id(pipeline_id)
        if stored is None:
            raise f.fail(key, "unknown pipeline")
        return stored.project_id

    async def job(self, f: Fields) -> None:
        job_id = f.ident()
        pipeline_id = f.ident("pipeline_id")
        project_id = await self._project_of_pipeline(f, pipeline_id)
        username = f.text("user")
        user_id = await self._user_id(f, "user", username) if username else None
        token = f.text("token")
        if token == "":
            raise f.fail("token", "must not be empty")
        if token is not None:
            self._batch.job_tokens[job_id] = self._claim_token(token, f"{f.where}.token")
        tag_list = f.items("tag_list")
        if not all(isinstance(tag, str) for tag in tag_list):
            raise f.fail("tag_list", "must be a list of strings")
        coverage = f.get("coverage", (int, float))
        if coverage is not None and not (-1e300 < coverage < 1e300 and math.isfinite(coverage)):
            raise f.fail("coverage", "must be a finite number")
        created_at = f.time("created_at")
        self._batch.jobs.append(
            Job(
                id=job_id,
                project_id=project_id,
                pipeline_id=pipeline_id,
                name=f.text("name", required=True),
                stage=f.text("stage", "test"),
                status=f.choice("status", JOB_STATUSES, "created"),
                kind=f.choice("kind", ("build", "bridge"), "build"),
                when=f.text("when", "on_success"),
                allow_failure=bool(f.get("allow_failure", bool, False)),
                user_id=user_id,
                coverage=float(coverage) if coverage is not None else None,
                tag_list=tuple(tag_list),
                failure_reason=f.text("failure_reason"),
                created_at=created_at,
                queued_at=f.time("queued_at") or created_at,
                started_at=f.time("started_at"),
                finished_at=f.time("finished_at"),
                erased_at=f.time("erased_at"),
                retried=bool(f.get("retried", bool, False)),
                downstream_pipeline_id=f.ident("downstream_pipeline_id", required=False),
                runner=None,
            )
        )
        trace = f.text("trace")
        if trace is not None:
            self._batch.traces.append((job_id, trace.encode("utf-8")))
        self._artifacts(f, job_id, project_id)

    def _artifacts(self, f: Fields, job_id: int, project_id: int) -> None:
        seen_types: set[str] = set()
        for a_index, item in enumerate(f.items("artifacts")):
            a = Fields(f"{f.where}.artifacts[{a_index}]", item)
            file_type = a.choice("file_type", FILE_TYPES, "archive")
            if file_type in seen_types:
                raise a.fail("file_type", "duplicate artifact type for this job")
            seen_types.add(file_type)
            relative = a.text("path", required=True)
            # Resolved (symlinks and `..` followed) before it is judged: an import reads files
            # of its own folder only, whatever names or links lead elsewhere.
            artifact_path = (self._base / relative).resolve()
            if not artifact_path.is_relative_to(self._base):
                raise a.fail("path", f"outside the import file's folder: {relative}")
            if not artifact_path.is_file():
                raise a.fail("path", f"no such file: {relative}")
            found = artifact_path.stat()
            self.plan.artifacts.append(
                PendingArtifact(
                    job_id,
                    project_id,
                    file_type,
                    artifact_path,
                    a.time("expire_at"),
                    a.where,
                    (found.st_dev, found.st_ino),
                )
            )
