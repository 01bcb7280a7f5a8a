"""What each route declares about itself for the OpenAPI document (`api/openapi.py`): its
query parameters and headers, its body, who may call it, and every status it answers.

An `Operation` sits next to its route in the route table (`route(..., spec=...)`), so a
parameter a handler starts to read is declared where the handler is; tests/fuzz checks
that the two agree (every query name a handler reads is declared) and schemathesis checks
the answers against the statuses and schemas declared here. Path parameters are not
declared: they come from the route's own pattern (`PATH_SCHEMAS`).

The building blocks below (pagination, scopes, the security sets, the replies) are the
vocabulary the route tables share; entity schemas are in `api/schemas.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from artifactsvc.api.params import FALSE, TRUE

Schema = dict[str, Any]

BINARY: Schema = {"type": "string", "format": "binary"}
TEXT: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "string", "enum": sorted(TRUE | FALSE)}
"""Grape's Boolean as it arrives in a query (CONTRACT: `true`, `True`, `1`)."""
POSITIVE: Schema = {"type": "integer", "minimum": 1}
EMPTY: Schema = {"type": "string", "maxLength": 0}
"""An empty value, which the handlers read as no value at all (`?page=` is page 1)."""
ROW_ID: Schema = {"type": "integer", "format": "int64", "minimum": 0}
"""A numeric path id (`:job_id`, `:pipeline_id`): digits only; past 2**63-1 nothing exists."""
ID_OR_PATH: Schema = {
    "anyOf": [
        {"type": "integer", "format": "int64", "minimum": 0},
        {"type": "string", "minLength": 1, "description": "URL-encoded full path: foo%2Fbar"},
    ]
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def enum(values: Sequence[str]) -> Schema:
    return {"type": "string", "enum": list(values)}


# -- parameters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A query parameter or a request header."""

    name: str
    schema: Schema
    where: str = "query"
    required: bool = False
    description: str = ""

    def document(self) -> Schema:
        body: Schema = {"name": self.name, "in": self.where, "schema": self.schema}
        if self.required:
            body["required"] = True
        if self.description:
            body["description"] = self.description
        if self.schema.get("type") == "array":
            body["style"], body["explode"] = "form", True
        return body


def query(
    name: str, schema: Schema | None = None, description: str = "", *, empty: bool = True
) -> Param:
    """An optional query parameter; with `empty`, `name=` is taken as absent (most are)."""
    if schema is None:
        return Param(name, TEXT, description=description)
    return Param(name, {"anyOf": [schema, EMPTY]} if empty else schema, description=description)


def header(name: str, description: str = "") -> Param:
    return Param(name, TEXT, where="header", description=description)


def boolean(name: str, description: str = "") -> Param:
    return query(name, BOOLEAN, description)


PAGES = (
    query("page", POSITIVE, "page number, from 1"),
    query("per_page", POSITIVE, "items per page; above 100 it is 100"),
)


def scopes(values: Sequence[str]) -> tuple[Param, ...]:
    """`scope=x`, or `scope[]=x&scope[]=y` as python-gitlab sends a list."""
    return (
        query("scope", enum(values), "one status", empty=False),
        query("scope[]", array(enum(values)), "several statuses", empty=False),
    )


SUDO = (
    query("sudo", description="act as this user (id or username): administrators, sudo scope"),
    header("Sudo", "as the `sudo` query parameter"),
)
RANGES = (
    header("Range", "bytes=START-END: 206 with that part, 416 when it cannot be served"),
    header("If-Range", "an ETag or a date: the Range applies only while it still matches"),
    header("If-None-Match", "an ETag: 304 while it matches"),
)

# -- security ----------------------------------------------------------------------------------

SECURITY_SCHEMES: Schema = {
    "privateToken": {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
    "privateTokenQuery": {"type": "apiKey", "in": "query", "name": "private_token"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "a personal access token"},
    "jobToken": {"type": "apiKey", "in": "header", "name": "JOB-TOKEN"},
    "jobTokenQuery": {"type": "apiKey", "in": "query", "name": "job_token"},
    "runnerToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "a running job's token (runner routes; also a `token` form field)",
    },
}
USER_SCHEMES = ("privateToken", "privateTokenQuery", "bearer")
JOB_SCHEMES = ("jobToken", "jobTokenQuery")
RUNNER_SCHEMES = ("jobToken", "jobTokenQuery", "runnerToken")


@dataclass(frozen=True)
class Security:
    """Who may call: the credential schemes accepted, and whether no credentials will do."""

    schemes: tuple[str, ...] = ()
    anonymous: bool = False

    def document(self) -> list[dict[str, list[str]]]:
        found: list[dict[str, list[str]]] = [{name: []} for name in self.schemes]
        return [*found, {}] if self.anonymous else found


NOBODY = Security(anonymous=True)  # operations endpoints: no credentials read
USER = Security(USER_SCHEMES)
USER_OR_JOB = Security((*USER_SCHEMES, *JOB_SCHEMES))
PUBLIC = Security(USER_SCHEMES, anonymous=True)
PUBLIC_OR_JOB = Security((*USER_SCHEMES, *JOB_SCHEMES), anonymous=True)
JOB = Security(JOB_SCHEMES)
RUNNER = Security(RUNNER_SCHEMES)

# -- replies -----------------------------------------------------------------------------------

HEADERS: Schema = {
    "X-Page": {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "required": True},
    "X-Per-Page": {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "required": True},
    "X-Next-Page": {"schema": {"type": "string", "pattern": "^[0-9]*$"}, "required": True},
    "X-Prev-Page": {"schema": {"type": "string", "pattern": "^[0-9]*$"}, "required": True},
    "X-Total": {"schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "X-Total-Pages": {"schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "Link": {"schema": {"type": "string"}, "description": "first, prev, next, last"},
    "Content-Range": {"schema": {"type": "string"}, "required": True},
    "ETag": {"schema": {"type": "string"}, "required": True},
    "Content-Disposition": {"schema": {"type": "string"}, "required": True},
    "Location": {"schema": {"type": "string"}, "required": True},
    "Job-Status": {"schema": {"type": "string"}, "required": True},
    "Range": {"schema": {"type": "string", "pattern": "^0-[0-9]+$"}, "required": True},
}
PAGE_HEADERS = ("X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page", "X-Total", "Link")
PAGE_HEADERS_UNCOUNTED = ("X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page", "Link")


@dataclass(frozen=True)
class Reply:
    """One status: its description, body by media type (none: no body), headers it sends."""

    description: str
    content: Mapping[str, Schema] = field(default_factory=dict)
    headers: tuple[str, ...] = ()

    def document(self, *, head: bool = False) -> Schema:
        body: Schema = {"description": self.description}
        if self.content and not head:
            body["content"] = {media: {"schema": schema} for media, schema in self.content.items()}
        if self.headers:
            body["headers"] = {
                name: {"$ref": f"#/components/headers/{name}"} for name in self.headers
            }
        return body


def json_reply(
    schema: Schema, description: str = "success", headers: tuple[str, ...] = ()
) -> Reply:
    return Reply(description, {"application/json": schema}, headers)


ERROR = json_reply(ref("Error"), "GitLab's error body")
NO_CONTENT = Reply("done; no body")
NOT_MODIFIED = Reply("the ETag still matches", headers=("ETag",))
REDIRECT = Reply("to a presigned URL (ARTIFACTSVC_DOWNLOAD_MODE=redirect)", headers=("Location",))
ARCHIVE_HEADERS = ("ETag", "Content-Disposition")


def bytes_reply(media: str, description: str) -> dict[int, Reply]:
    """A stored archive or file: 200, 206 for a Range, 304 for If-None-Match."""
    return {
        200: Reply(description, {media: BINARY}, ARCHIVE_HEADERS),
        206: Reply(f"{description}: the range asked for", {media: BINARY}, ("Content-Range",)),
        304: NOT_MODIFIED,
    }


# -- request bodies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    content: Mapping[str, Schema]
    required: bool = False
    encoding: Mapping[str, Mapping[str, Schema]] = field(default_factory=dict)

    def document(self) -> Schema:
        content: Schema = {}
        for media, schema in self.content.items():
            content[media] = {"schema": schema}
            if media in self.encoding:
                content[media]["encoding"] = dict(self.encoding[media])
        return {"required": self.required, "content": content}


EMPTY_JSON = Body(
    {"application/json": {"type": "object", "description": "clients send {}; ignored"}}
)


# -- the operation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One documented operation of a route (a route with two readings, like the by-ref one,
    has one each, with `path` and `name` set)."""

    summary: str
    security: Security
    replies: Mapping[int, Reply]
    params: tuple[Param, ...] = ()
    body: Body | None = None
    errors: tuple[int, ...] = ()
    path: str | None = None  # documented under this path instead of the route's pattern
    path_params: Mapping[str, Schema] = field(default_factory=dict)  # overrides PATH_SCHEMAS
    name: str | None = None  # operationId stem, when one endpoint has several operations
    description: str = ""

    def statuses(self) -> dict[int, Reply]:
        every = dict(self.replies)
        # A token that is given but unknown is a 401 wherever credentials are read.
        implied = (401,) if self.security.schemes else ()
        for status in sorted({*self.errors, *implied}):
            every.setdefault(status, ERROR)
        return every


PATH_SCHEMAS: dict[str, Schema] = {
    "id": ID_OR_PATH,
    "job_id": ROW_ID,
    "pipeline_id": ROW_ID,
    "artifact_path": {"type": "string", "minLength": 1, "description": "a path in the archive"},
    "ref_name": {"type": "string", "minLength": 1, "description": "a branch or tag; may hold /"},
}
