"""JSON shapes of GitLab's API entities (CONTRACT section 9, seed/jobs-api.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from artifactsvc.models import Job, JobView, Pipeline, Project, User, format_time, utcnow

Json = dict[str, Any]


@dataclass
class Memo:
    """What a list renders once and shares: users by id, (commit, pipeline) by pipeline id."""

    users: dict[int | None, Json | None] = field(default_factory=dict)
    pipelines: dict[int, tuple[Json, Json]] = field(default_factory=dict)


class Renderer:
    """Knows the external URL every `web_url` starts with; pure otherwise."""

    def __init__(self, external_url: str) -> None:
        self.base = external_url.rstrip("/")

    def user(self, user: User | None, *, full: bool = False) -> Json | None:
        if user is None:
            return None
        body: Json = {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "state": user.state,
            "locked": False,
            "avatar_url": None,
            "web_url": f"{self.base}/{user.username}",
            "created_at": format_time(user.created_at),
            "bio": "",
            "location": "",
            "public_email": "",
            "linkedin": "",
            "twitter": "",
            "discord": "",
            "website_url": "",
            "organization": "",
            "job_title": "",
            "pronouns": None,
            "bot": False,
        }
        if full:
            body["email"] = user.email
            body["is_admin"] = user.admin
        return body

    def project(self, project: Project) -> Json:
        namespace = project.namespace
        return {
            "id": project.id,
            "description": project.description,
            "name": project.name,
            "name_with_namespace": " / ".join(project.path_with_namespace.split("/")),
            "path": project.path,
            "path_with_namespace": project.path_with_namespace,
            "created_at": format_time(project.created_at),
            "default_branch": project.default_branch,
            "visibility": project.visibility,
            "web_url": f"{self.base}/{project.path_with_namespace}",
            "namespace": {
                "name": namespace.rsplit("/", 1)[-1],
                "path": namespace.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": namespace,
                "web_url": f"{self.base}/{namespace}",
            },
            "jobs_enabled": True,
            "archived": False,
            "_links": {"self": f"{self.base}/api/v4/projects/{project.id}"},
        }

    def pipeline(self, pipeline: Pipeline, project_path: str) -> Json:
        return {
            "id": pipeline.id,
            "iid": pipeline.iid,
            "project_id": pipeline.project_id,
            "sha": pipeline.sha,
            "ref": pipeline.ref,
            "status": pipeline.status,
            "source": pipeline.source,
            "created_at": format_time(pipeline.created_at),
            "updated_at": format_time(pipeline.updated_at),
            "web_url": f"{self.base}/{project_path}/-/pipelines/{pipeline.id}",
        }

    def pipeline_item(self, pipeline: Pipeline, project_path: str) -> Json:
        """A pipeline in a list (GitLab's PipelineBasicWithMetadata)."""
        return {**self.pipeline(pipeline, project_path), "name": pipeline.name}

    def pipeline_detail(self, pipeline: Pipeline, project_path: str) -> Json:
        """One pipeline (GitLab's PipelineWithMetadata)."""
        body = self.pipeline_item(pipeline, project_path)
        user = self.user(pipeline.user)
        body.update(
            before_sha=pipeline.before_sha or BLANK_SHA,
            tag=pipeline.tag,
            yaml_errors=pipeline.yaml_errors,
            user={key: user[key] for key in USER_BASIC} if user else None,
            started_at=format_time(pipeline.started_at),
            finished_at=format_time(pipeline.finished_at),
            committed_at=format_time(pipeline.committed_at),
            duration=pipeline.duration
            if pipeline.duration is not None
            else _whole_seconds(pipeline.started_at, pipeline.finished_at),
            queued_duration=pipeline.queued_duration
            if pipeline.queued_duration is not None
            else _whole_seconds(pipeline.created_at, pipeline.started_at),
            coverage=pipeline.coverage,
            detailed_status=detailed_status(pipeline, f"/{project_path}/-/pipelines/{pipeline.id}"),
        )
        return body

    def commit(self, pipeline: Pipeline) -> Json:
        commit = dict(pipeline.commit or {})
        commit.setdefault("id", pipeline.sha)
        commit.setdefault("short_id", pipeline.sha[:8])
        for key in ("title", "message", "author_name", "author_email", "created_at"):
            commit.setdefault(key, None)
        return commit

    def job_basic(
        self, job: Job, project: Project, *, now: datetime | None = None, memo: Memo | None = None
    ) -> Json:
        now = now or utcnow()
        pipeline = job.pipeline
        assert pipeline is not None, "jobs are loaded with their pipeline"
        if memo is None:
            user, commit, shown_pipeline = (
                self.user(job.user),
                self.commit(pipeline),
                self.pipeline(pipeline, project.path_with_namespace),
            )
        else:
            # A page's jobs share a few users and pipelines: each is rendered once, and the
            # encoder writes the same (never mutated) dict again.
            user_key = job.user.id if job.user is not None else None
            if user_key not in memo.users:
                memo.users[user_key] = self.user(job.user)
            user = memo.users[user_key]
            if pipeline.id not in memo.pipelines:
                memo.pipelines[pipeline.id] = (
                    self.commit(pipeline),
                    self.pipeline(pipeline, project.path_with_namespace),
                )
            commit, shown_pipeline = memo.pipelines[pipeline.id]
        return {
            "id": job.id,
            "status": job.status,
            "stage": job.stage,
            "name": job.name,
            "ref": pipeline.ref,
            "tag": pipeline.tag,
            "coverage": job.coverage,
            "allow_failure": job.allow_failure,
            "created_at": format_time(job.created_at),
            "started_at": format_time(job.started_at),
            "finished_at": format_time(job.finished_at),
            "erased_at": format_time(job.erased_at),
            "duration": _duration(job, now),
            "queued_duration": _queued_duration(job, now),
            "user": user,
            "commit": commit,
            "pipeline": shown_pipeline,
            "web_url": f"{self.base}/{project.path_with_namespace}/-/jobs/{job.id}",
            "project": {"ci_job_token_scope_enabled": False},
        }

    def jobs(self, views: Sequence[JobView], project: Project) -> list[Json]:
        """A page of jobs, at one `now`, each user and pipeline rendered once."""
        now, memo = utcnow(), Memo()
        return [self.job(view, project, now=now, memo=memo) for view in views]

    def job(
        self,
        view: JobView,
        project: Project,
        *,
        now: datetime | None = None,
        memo: Memo | None = None,
    ) -> Json:
        job, live = view.job, view.live
        body = self.job_basic(job, project, now=now, memo=memo)
        archive = next((a for a in live if a.file_type == "archive"), None)
        if archive is not None:
            body["artifacts_file"] = {"filename": archive.filename, "size": archive.size}
        body["artifacts"] = [
            {
                "file_type": artifact.file_type,
                "size": artifact.size,
                "filename": artifact.filename,
                "file_format": artifact.file_format,
            }
            for artifact in live
        ]
        body["artifacts_expire_at"] = format_time(archive.expire_at) if archive else None
        body["runner"] = job.runner
        body["runner_manager"] = None
        body["tag_list"] = list(job.tag_list)
        body["archived"] = False
        if job.status == "failed":
            body["failure_reason"] = job.failure_reason or "unknown_failure"
        return body

    def bridge(self, view: JobView, project: Project) -> Json:
        body = self.job_basic(view.job, project)
        down = view.downstream
        body["downstream_pipeline"] = (
            self.downstream(down.pipeline, down.project_path) if down is not None else None
        )
        return body

    def downstream(self, pipeline: Pipeline, project_path: str) -> Json:
        body = self.pipeline(pipeline, project_path)
        return {
            key: body[key]
            for key in (
                "id",
                "iid",
                "project_id",
                "sha",
                "ref",
                "status",
                "source",
                "created_at",
                "updated_at",
                "web_url",
            )
        }


def _seconds(delta_start: datetime | None, delta_end: datetime | None) -> float | None:
    if delta_start is None or delta_end is None:
        return None
    return round((delta_end - delta_start).total_seconds(), 3)


def _duration(job: Job, now: datetime) -> float | None:
    if job.started_at is None:
        return None
    return _seconds(job.started_at, job.finished_at or now)


def _queued_duration(job: Job, now: datetime) -> float | None:
    queued = job.queued_at or job.created_at
    if queued is None or job.status in ("created", "manual", "scheduled", "skipped"):
        return None
    return _seconds(queued, job.started_at or now)


def _whole_seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds())


BLANK_SHA = "0" * 40  # GitLab's Gitlab::Git::SHA1_BLANK_SHA: no previous commit
USER_BASIC = ("id", "username", "name", "state", "locked", "avatar_url", "web_url")
# GitLab's Gitlab::Ci::Status classes for a pipeline: (icon, text, label, group).
STATUS_DISPLAY: dict[str, tuple[str, str, str, str]] = {
    "created": ("status_created", "created", "created", "created"),
    "waiting_for_resource": (
        "status_pending",
        "waiting",
        "waiting for resource",
        "waiting-for-resource",
    ),
    "preparing": ("status_preparing", "preparing", "preparing", "preparing"),
    "pending": ("status_pending", "pending", "pending", "pending"),
    "running": ("status_running", "running", "running", "running"),
    "success": ("status_success", "passed", "passed", "success"),
    "failed": ("status_failed", "failed", "failed", "failed"),
    "canceled": ("status_canceled", "canceled", "canceled", "canceled"),
    "skipped": ("status_skipped", "skipped", "skipped", "skipped"),
    "manual": ("status_manual", "blocked", "manual action", "manual"),
    "scheduled": ("status_scheduled", "delayed", "scheduled", "scheduled"),
}


def detailed_status(pipeline: Pipeline, details_path: str) -> Json:
    icon, text, label, group = STATUS_DISPLAY.get(
        pipeline.status, (f"status_{pipeline.status}", pipeline.status, pipeline.status, "")
    )
    return {
        "icon": icon,
        "text": text,
        "label": label,
        "group": group or pipeline.status,
        "tooltip": label,
        "has_details": False,
        "details_path": details_path,
        "illustration": None,
        "favicon": f"/assets/ci_favicons/favicon_{icon}.png",
    }
