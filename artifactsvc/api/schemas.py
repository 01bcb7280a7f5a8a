"""JSON Schemas of the bodies this API answers with: GitLab's entities as `api/render.py`
shapes them, the listings' entries, the runner answers and the error bodies.

`required` lists every key a body always carries; other properties appear only sometimes
(`artifacts_file` with a live archive, `failure_reason` on failed jobs). Extra keys are
allowed, as GitLab adds fields over time, but tests/test_openapi.py fails when a rendered
body has a key that is not declared here, so this stays what the code sends.
"""

from __future__ import annotations

from artifactsvc.api.spec import ROW_ID, Schema, array, enum, nullable, ref
from artifactsvc.artifact_types import FORMATS
from artifactsvc.models import JOB_STATUSES, VISIBILITIES

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = nullable({"type": "string", "format": "date-time"})
TEXT_OR_NULL: Schema = nullable(STRING)


def entity(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


USER_BASIC = {
    "id": INTEGER,
    "username": STRING,
    "name": STRING,
    "state": STRING,
    "locked": BOOL,
    "avatar_url": TEXT_OR_NULL,
    "web_url": STRING,
}
USER = {
    **USER_BASIC,
    "created_at": TIME,
    **{key: STRING for key in ("bio", "location", "public_email", "linkedin", "twitter")},
    **{key: STRING for key in ("discord", "website_url", "organization", "job_title")},
    "pronouns": TEXT_OR_NULL,
    "bot": BOOL,
}
PIPELINE = {
    "id": INTEGER,
    "iid": INTEGER,
    "project_id": INTEGER,
    "sha": STRING,
    "ref": STRING,
    "status": STRING,
    "source": STRING,
    "created_at": TIME,
    "updated_at": TIME,
    "web_url": STRING,
}
DETAILED_STATUS = {
    **{key: STRING for key in ("icon", "text", "label", "group", "tooltip")},
    "has_details": BOOL,
    "details_path": STRING,
    "illustration": nullable({"type": "object"}),
    "favicon": STRING,
}
COMMIT = {
    "id": STRING,
    "short_id": STRING,
    **{key: TEXT_OR_NULL for key in ("title", "message", "author_name", "author_email")},
    "created_at": TEXT_OR_NULL,
}
JOB_BASIC = {
    "id": INTEGER,
    "status": enum(JOB_STATUSES),
    "stage": STRING,
    "name": STRING,
    "ref": STRING,
    "tag": BOOL,
    "coverage": nullable({"type": "number"}),
    "allow_failure": BOOL,
    "created_at": TIME,
    "started_at": TIME,
    "finished_at": TIME,
    "erased_at": TIME,
    "duration": nullable({"type": "number"}),
    "queued_duration": nullable({"type": "number"}),
    "user": nullable(ref("User")),
    "commit": ref("Commit"),
    "pipeline": ref("Pipeline"),
    "web_url": STRING,
    "project": entity({"ci_job_token_scope_enabled": BOOL}),
}
ARTIFACT = {
    "file_type": STRING,
    "size": INTEGER,
    "filename": STRING,
    "file_format": enum(FORMATS),
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": 'GitLab\'s shapes: {"message": ...}, {"error": ...}, or OAuth\'s'
        " insufficient_scope with error_description and scope",
        "properties": {
            "message": STRING,
            "error": STRING,
            "error_description": STRING,
            "scope": STRING,
        },
        "anyOf": [{"required": ["message"]}, {"required": ["error"]}],
    },
    "UserBasic": entity(USER_BASIC),
    "User": entity(USER),
    "CurrentUser": entity({**USER, "email": STRING, "is_admin": BOOL}),
    "Project": entity(
        {
            "id": INTEGER,
            "description": TEXT_OR_NULL,
            "name": STRING,
            "name_with_namespace": STRING,
            "path": STRING,
            "path_with_namespace": STRING,
            "created_at": TIME,
            "default_branch": TEXT_OR_NULL,
            "visibility": enum(VISIBILITIES),
            "web_url": STRING,
            "namespace": entity(
                {key: STRING for key in ("name", "path", "kind", "full_path", "web_url")}
            ),
            "jobs_enabled": BOOL,
            "archived": BOOL,
            "_links": entity({"self": STRING}),
            # GitLab's ProjectStatistics: only with `statistics=true`, for reporters and up.
            "statistics": entity(
                {
                    key: INTEGER
                    for key in (
                        "commit_count",
                        "storage_size",
                        "repository_size",
                        "wiki_size",
                        "lfs_objects_size",
                        "job_artifacts_size",
                        "pipeline_artifacts_size",
                        "packages_size",
                        "snippets_size",
                        "uploads_size",
                        "container_registry_size",
                    )
                }
            ),
        },
        optional=("statistics",),
    ),
    "Version": entity({"version": STRING, "revision": STRING, "enterprise": BOOL}),
    "Commit": entity(COMMIT),
    "Pipeline": entity(PIPELINE),
    "PipelineItem": entity({**PIPELINE, "name": TEXT_OR_NULL}),
    "PipelineDetail": entity(
        {
            **PIPELINE,
            "name": TEXT_OR_NULL,
            "before_sha": STRING,
            "tag": BOOL,
            "yaml_errors": TEXT_OR_NULL,
            "user": nullable(ref("UserBasic")),
            "started_at": TIME,
            "finished_at": TIME,
            "committed_at": TIME,
            "duration": nullable(INTEGER),
            "queued_duration": nullable(INTEGER),
            "coverage": TEXT_OR_NULL,
            "detailed_status": entity(DETAILED_STATUS),
        }
    ),
    "Job": entity(
        {
            **JOB_BASIC,
            "artifacts_file": entity({"filename": STRING, "size": INTEGER}),
            "artifacts": array(entity(ARTIFACT)),
            "artifacts_expire_at": TIME,
            "runner": nullable({"type": "object"}),
            "runner_manager": {"type": "null"},
            "tag_list": array(STRING),
            "archived": BOOL,
            "failure_reason": STRING,
        },
        optional=("artifacts_file", "failure_reason"),
    ),
    "Bridge": entity({**JOB_BASIC, "downstream_pipeline": nullable(ref("Pipeline"))}),
    "TreeEntry": entity(
        {
            "name": STRING,
            "path": STRING,
            "type": enum(("file", "directory", "symlink")),
            "size": INTEGER,
            "compressed_size": INTEGER,
            "crc": nullable({"type": "string", "pattern": "^[0-9a-f]{8}$"}),
            "mode": nullable({"type": "string", "pattern": "^[0-7]{6}$"}),
            "mtime": TIME,
        }
    ),
    "GitlabTreeEntry": entity(
        {
            "name": STRING,
            "path": STRING,
            "type": enum(("file", "directory")),
            "size": INTEGER,
            "mode": nullable({"type": "string", "pattern": "^[0-7]{6}$"}),
        },
        optional=("size",),
    ),
    "UploadedArtifact": entity(ARTIFACT),
    "JobState": entity({"id": ROW_ID, "status": enum(JOB_STATUSES)}),
    "Liveness": entity({"status": enum(("ok",))}),
    "Readiness": entity(
        {
            # `draining`: shutting down, in-flight requests finishing (harden-edge)
            "status": enum(("ok", "failed", "draining")),
            "checks": {"type": "object", "additionalProperties": enum(("ok", "failed"))},
        }
    ),
}
