"""Pipelines: the Pipelines API reads (one, the latest of a ref, a filtered list).

GitLab's PipelinesFinder decides what a list holds (lib/api/ci/pipelines.rb,
app/finders/ci/pipelines_finder.rb); the filters arrive here already parsed.
"""

from __future__ import annotations

from dataclasses import replace

from artifactsvc.access import Access
from artifactsvc.errors import Forbidden, PipelineNotFound
from artifactsvc.metadata import IdentityStore, JobStore
from artifactsvc.models import Pipeline, PipelineQuery


async def load_pipeline(store: JobStore, access: Access, pipeline_id: int) -> Pipeline:
    """A pipeline of the project the caller may read, or PipelineNotFound."""
    access.require_read_pipelines()
    found = await store.pipeline(access.project.id, pipeline_id) if pipeline_id < 2**63 else None
    if found is None:
        raise PipelineNotFound()
    return found


class PipelineService:
    def __init__(self, jobs: JobStore, identities: IdentityStore) -> None:
        self._jobs = jobs
        self._identities = identities

    async def pipeline(self, access: Access, pipeline_id: int) -> Pipeline:
        return await load_pipeline(self._jobs, access, pipeline_id)

    async def latest(self, access: Access, ref: str | None) -> Pipeline:
        """The newest pipeline of `ref` (the default branch when None). None found is a 403,
        as GitLab answers (it authorizes `read_pipeline` on a missing pipeline)."""
        ref = ref or access.project.default_branch
        found = await self._jobs.latest_pipeline(access.project.id, ref) if ref else None
        if found is None:
            raise Forbidden()
        access.require_read_pipelines()
        return found

    async def pipelines(
        self, access: Access, query: PipelineQuery, username: str | None, offset: int, limit: int
    ) -> tuple[list[Pipeline], int]:
        """A page of the project's pipelines and their count; `limit` 0 only counts."""
        access.require_read_pipelines()
        access.require_read_jobs()  # GitLab lists pipelines for `read_build` too
        if username:
            user = await self._identities.user_by_username(username)
            query = replace(query, user_id=user.id if user is not None else -1)
        found = await self._jobs.pipelines(query, offset, limit) if limit else []
        return found, await self._jobs.count_pipelines(query)
