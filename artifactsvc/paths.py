"""Artifact path validation (CONTRACT section 5): pure functions that reject, never repair.

A path arrives percent-decoded once by the router, with bytes that were not UTF-8 kept as
surrogates. It is then matched exactly against the archive's entry names, so anything that
could only ever name something outside the archive, or nothing at all, is refused here with
a 400 before storage is touched.
"""

from __future__ import annotations

import re
import unicodedata

from artifactsvc.errors import InvalidPath

MAX_PATH_BYTES = 4096
_DRIVE = re.compile(r"^[A-Za-z]:")


def validate_artifact_path(path: str) -> str:
    """The path unchanged if it can name an archive member; InvalidPath otherwise."""
    if not path:
        raise InvalidPath()
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:  # surrogates: the raw bytes were not UTF-8
        raise InvalidPath() from None
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidPath()
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise InvalidPath()  # NUL and other control characters, C1 (U+0080-U+009F) too
    if path.startswith("/"):
        raise InvalidPath()
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise InvalidPath()  # `//`, a trailing `/`, traversal
    return path


def validate_directory(path: str | None) -> str:
    """A folder for listings: "" for the root, else a valid path without a trailing slash."""
    if path is None or path in ("", "/"):
        return ""
    return validate_artifact_path(path.rstrip("/") if path.endswith("/") else path)


def safe_to_extract(name: str) -> bool:
    """Whether an entry name may be copied into a zip we write: it must name a path inside the
    folder it is extracted to, on any system. Go's archive/zip calls the same names insecure
    (`!filepath.IsLocal(name) || strings.Contains(name, "\\")`), and GitLab's listing leaves
    out every entry its INVALID_PATH_PATTERN matches; such entries are left out. Refused:
    `..` or `.` segments, empty segments, a leading `/`, backslashes (a Windows separator:
    `..\\x`), a drive letter (`C:x`, `C:/x`), NUL and other control characters, more than
    MAX_PATH_BYTES."""
    path = name[:-1] if name.endswith("/") else name
    if "\\" in path or _DRIVE.match(path):
        return False
    try:
        validate_artifact_path(path)
    except InvalidPath:
        return False
    return True


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
