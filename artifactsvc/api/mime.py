"""Content types for files served out of archives (CONTRACT section 8).

By extension, from Python's built-in table only (not the host's /etc/mime.types, so every
machine answers alike). On the `raw` route the first bytes are sniffed as GitLab Workhorse
does with Go's http.DetectContentType, and any text/* becomes text/plain; charset=utf-8, so
an HTML or SVG file in an artifact is never rendered by a browser from our origin.
"""

from __future__ import annotations

import mimetypes

_TABLE = mimetypes.MimeTypes(filenames=())
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x7fELF", "application/octet-stream"),
    (b"RIFF", "application/octet-stream"),
    (b"\x00asm", "application/wasm"),
)
TEXT = "text/plain; charset=utf-8"
SNIFF_BYTES = 512  # what Go's http.DetectContentType looks at
BINARY = "application/octet-stream"


def by_extension(name: str) -> str:
    guessed, _ = _TABLE.guess_type(name, strict=False)
    if guessed is None:
        return BINARY
    if guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed


def sniff(head: bytes) -> str:
    """Go's DetectContentType, reduced to what matters here; text/* becomes plain text."""
    sample = head[:SNIFF_BYTES]
    for magic, content_type in _MAGIC:
        if sample.startswith(magic):
            return content_type
    if sample.startswith((b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")):
        return TEXT
    if any(byte < 0x09 or 0x0E <= byte < 0x20 and byte != 0x1B for byte in sample):
        return BINARY
    return TEXT
