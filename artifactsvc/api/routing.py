"""Routes matched on the RAW request path (CONTRACT section 5).

Starlette routes on the decoded path, where `foo%2Fbar` has already become `foo/bar` and
would split `:id`. These routes match `scope["raw_path"]` instead and percent-decode each
captured segment exactly once. `+` stays `+` (form decoding is for query values only), a
lone `%` stays literal, and bytes that are not UTF-8 survive as surrogates so the path
validators can reject them instead of the decoder guessing.

A literal part of a GitLab route also matches in any percent-encoding (Grape's Mustermann
patterns decode: `artifacts/tre%65` is `artifacts/tree`); where that decides between two
routes, `only` names the decoded values a captured segment must have.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, request_response
from starlette.types import Receive, Scope, Send

from artifactsvc.api.spec import Operation

Endpoint = Callable[[Request], Awaitable[Response]]

_PARAM = re.compile(r"\{(\w+)(\*?)\}")


def decode_segment(raw: str) -> str:
    """Percent-decodes once; invalid UTF-8 is kept as surrogates for the validators."""
    return unquote_to_bytes(raw).decode("utf-8", errors="surrogateescape")


_RAW_PATH = "artifactsvc.raw_path"


def raw_path(scope: Scope) -> str:
    """The request's raw path, decoded as Latin-1 once per request: the router asks every
    route in turn, so it is kept in the scope."""
    cached: str | None = scope.get(_RAW_PATH)
    if cached is None:
        raw = scope.get("raw_path")
        if raw is None:
            cached = str(scope["path"])
        else:
            cached = bytes(raw).split(b"?", 1)[0].decode("latin-1")
        scope[_RAW_PATH] = cached
    return cached


class RawRoute(BaseRoute):
    """`/projects/{id}/jobs/{job_id}`: `{name}` is one raw segment, `{name*}` the rest.

    With `only`, a captured segment must decode to one of the values given for it. `spec`
    is what the OpenAPI document says of it (api/spec.py)."""

    def __init__(
        self,
        pattern: str,
        endpoint: Endpoint,
        methods: Sequence[str],
        only: Mapping[str, Collection[str]] | None = None,
        spec: Operation | Sequence[Operation] | None = None,
    ) -> None:
        self.pattern = pattern
        self.spec: tuple[Operation, ...] = (
            () if spec is None else (spec,) if isinstance(spec, Operation) else tuple(spec)
        )
        self.endpoint = endpoint
        self.only = dict(only or {})
        self.methods = {method.upper() for method in methods}
        if "GET" in self.methods:
            self.methods.add("HEAD")
        regex = ""
        position = 0
        for match in _PARAM.finditer(pattern):
            regex += re.escape(pattern[position : match.start()])
            body = ".+" if match.group(2) else "[^/]+"
            regex += f"(?P<{match.group(1)}>{body})"
            position = match.end()
        regex += re.escape(pattern[position:])
        self._regex = re.compile(f"^{regex}$")
        self._app = request_response(endpoint)

    def capture(self, path: str) -> tuple[dict[str, str], dict[str, str]] | None:
        """(decoded, raw) parameters when this route's pattern takes `path`."""
        found = self._regex.match(path)
        if found is None:
            return None
        raw = found.groupdict()
        params = {name: decode_segment(value) for name, value in raw.items()}
        if any(params[name] not in values for name, values in self.only.items()):
            return None
        return params, raw

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Every request asks every route until one takes it: the common answer, no, is
        # given by one regex test on the path decoded once for all routes.
        if scope["type"] != "http" or self._regex.match(raw_path(scope)) is None:
            return Match.NONE, {}
        captured = self.capture(raw_path(scope))
        if captured is None:
            return Match.NONE, {}
        params, raw_params = captured
        child = {"path_params": params, "raw_path_params": raw_params, "endpoint": self.endpoint}
        if scope["method"] in self.methods:
            return Match.FULL, child
        return Match.PARTIAL, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.methods:
            allowed = ", ".join(sorted(allowed_methods(scope, fallback=self)))
            raise HTTPException(status_code=405, headers={"Allow": allowed})
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return f"RawRoute({self.pattern!r}, methods={sorted(self.methods)})"


def allowed_methods(scope: Scope, *, fallback: RawRoute) -> set[str]:
    """Every method some route serves at this path: Starlette hands a 405 to the first route
    whose pattern matched, but others (`GET` and `DELETE .../artifacts`) may serve it too."""
    router = scope.get("router")
    routes = getattr(router, "routes", None) or [fallback]
    path = raw_path(scope)
    methods: set[str] = set()
    for candidate in routes:
        if isinstance(candidate, RawRoute) and candidate.capture(path) is not None:
            methods |= candidate.methods
    return methods or fallback.methods


def route(
    pattern: str,
    endpoint: Endpoint,
    methods: Sequence[str] = ("GET",),
    *,
    only: Mapping[str, Collection[str]] | None = None,
    spec: Operation | Sequence[Operation] | None = None,
) -> RawRoute:
    return RawRoute(pattern, endpoint, methods, only, spec)
