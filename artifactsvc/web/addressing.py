"""Where a web path points (pure): a project's full path before `/-/`, and what follows.

GitLab's project routes are `/<namespace>/<project>/-/<page>`; a namespace may be nested
(`group/subgroup/project`), so the project is everything before the first `/-/`. Each segment
is percent-decoded once and checked (rejected, never repaired: CONTRACT section 5's rules for
artifact paths, applied to the project's path too).
"""

from __future__ import annotations

from dataclasses import dataclass

from artifactsvc.api.routing import decode_segment
from artifactsvc.errors import InvalidInput

MAX_WEB_PATH = 8192  # bytes of a raw web path; GitLab's own routes stay far below
MAX_PROJECT_PATH = 1024
_SEPARATOR = "/-/"


@dataclass(frozen=True)
class WebPath:
    """`/<project>/-/<rest>`: the project's full path, decoded, and `rest` still raw."""

    project: str
    rest: str


def is_project_page(raw_path: str) -> bool:
    """A path the project pages answer (their 404 is an HTML page): `/<project>/-/...`."""
    return not raw_path.startswith(("/-/", "/api/")) and _SEPARATOR in raw_path


def split_web_path(raw_path: str) -> WebPath:
    """The project and the rest of a project page's path; InvalidInput (400) for a hostile
    one: too long, an empty, `.` or `..` segment, NUL or control characters, bad UTF-8."""
    if len(raw_path) > MAX_WEB_PATH:
        raise InvalidInput("path too long")
    head, _, rest = raw_path[1:].partition(_SEPARATOR)
    segments = [decode_segment(part) for part in head.split("/")]
    for segment in segments:
        check_segment(segment)
    project = "/".join(segments)
    if len(project.encode("utf-8")) > MAX_PROJECT_PATH:
        raise InvalidInput("project path too long")
    return WebPath(project, rest)


def check_segment(segment: str) -> None:
    if segment in ("", ".", "..") or "/" in segment:
        raise InvalidInput("invalid path segment")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in segment):
        raise InvalidInput("control character in path")
    try:
        segment.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("invalid UTF-8 in path") from None
