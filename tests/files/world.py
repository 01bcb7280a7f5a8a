"""The archives and jobs most single-file tests read: one seeded store, uploaded once a session.

Project 1 (`files/public`, public) and project 2 (`files/private`, private). Pipelines and
the refs the by-ref routes resolve:

    10 master      11 build (MAIN)  12 zip64 (ZIP64)  13 crafted (CRAFTED)  14 streamed (STREAMED)
    20 master      21 build (MAIN, in the private project)
    30 feature/x   31 build (FEATURE)
    40 a           42 split  {raw/b.txt}
    41 a/raw       43 split  {b.txt}     44 split2 {b.txt}

Broken archives live on pipeline 10 too (see test_broken_archives.py).
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from typing import Any

from tests.support.documents import pipeline, project, running, user
from tests.support.lying_zips import Raw, deflate64_far_copy, deflate_raw, raw_zip
from tests.support.zips import (
    DEFLATE64,
    Member,
    make_zip,
    noise,
    stream_zip_chunks,
    stream_zip_members,
    text,
)

ROOT_TOKEN = "glpat-files-root"
ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}
PUBLIC, PRIVATE = 1, 2
ZIP64_ENTRIES = 70_000
D, S = zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED

ODD_NAMES = [
    "names/unicode-ünïcødé-日本語.txt",
    "names/emoji-🎉.txt",
    "names/with space.txt",
    "names/  leading and trailing spaces  .txt",
    'names/double"quote.txt',
    "names/single'quote.txt",
    "names/back\\slash.txt",
    "names/percent%41.txt",
    "names/100%.txt",
    "names/%zz.txt",
    "names/plus+sign+.txt",
    "names/question?mark.txt",
    "names/semi;colon,comma=equals&amp@at$dollar!bang.txt",
    "names/brackets[]{}()<>.txt",
    "names/tilde~backtick`caret^pipe|.txt",
    "names/colon:name.txt",
    "names/...",
    "names/café.txt",  # NFC
    "names/CaseFile.TXT",
    "raw",
    "raw/file.txt",
    "a/raw/b.txt",
    "x/raw/raw/y.txt",
]


def files_world(
    projects: list[dict[str, Any]],
    pipelines: list[dict[str, Any]],
    jobs: list[tuple[int, int, str]],
) -> dict[str, Any]:
    """Root, the given projects and pipelines, and running jobs (id, pipeline, name)."""
    return {
        "users": [user(1, "root", admin=True, tokens=(ROOT_TOKEN,))],
        "projects": projects,
        "pipelines": pipelines,
        "jobs": [running(job_id, pipeline_id, name) for job_id, pipeline_id, name in jobs],
    }


def one_project_world(job_ids: list[int]) -> dict[str, Any]:
    """Public project 1 with running jobs `job_ids` on pipeline 6."""
    return files_world(
        [project(1, "files/one", "public")],
        [pipeline(6, 1)],
        [(job_id, 6, f"job-{job_id}") for job_id in job_ids],
    )


def _member(name: str, data: bytes, method: int) -> Member:
    return Member(name, data, method, mode=0o640)


def _named(name: str) -> bytes:
    return f"contents of {name}\n".encode() * 3


MAIN_FILES: dict[str, tuple[bytes, int]] = {
    "hello.txt": (b"hello, world\n", S),
    "index.html": (b"<!DOCTYPE html><html><script>alert(1)</script></html>\n", D),
    "image.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>\n', S),
    "data.json": (b'{"a": [1, 2, 3]}\n', D),
    "dist/app.js": (b"console.log('app');\n", D),
    "image.png": (b"\x89PNG\r\n\x1a\n" + noise(300, 7), S),
    "binary.txt": (b"\x00\x01\x02\x03 not text at all", S),
    "unknown.qqq": (b"who knows\n", S),
    "noext": (b"no extension\n", S),
    "empty.txt": (b"", S),
    "empty-deflated.txt": (b"", D),
    "empty.html": (b"", S),
    "deflated/big.log": (text(700_000, 1), D),
    "deflated/small.txt": (b"small deflated member\n" * 10, D),
    "stored/big.bin": (noise(1_600_000, 2), S),
    "stored/mid.bin": (noise(300_000, 3), S),
    "methods/bzip2.txt": (text(200_000, 4), zipfile.ZIP_BZIP2),
    "methods/lzma.txt": (text(150_000, 5), zipfile.ZIP_LZMA),
    "deep/a/b/c/d/e.txt": (b"deep\n", D),
    "dup.txt": (b"first occurrence\n", S),
    **{name: (_named(name), D if i % 2 else S) for i, name in enumerate(ODD_NAMES)},
}
MAIN_EXTRA = [
    Member("dir/"),
    _member("dir/inside.txt", b"inside a directory entry\n", D),
    Member("link", b"hello.txt", symlink=True),
    Member("escape-link", b"../../../../etc/passwd", symlink=True),
    _member("dup.txt", b"second occurrence\n", S),
]


def main_archive() -> bytes:
    members = [_member(name, data, method) for name, (data, method) in MAIN_FILES.items()]
    return make_zip(members + MAIN_EXTRA)


STREAMED_FILES: dict[str, tuple[bytes, int]] = {
    "streamed/stored.bin": (noise(400_000, 11), S),
    "streamed/deflated.txt": (text(300_000, 12), D),
    "streamed/bzip2.txt": (text(50_000, 13), zipfile.ZIP_BZIP2),
    "streamed/empty.txt": (b"", S),
}


def streamed_archive() -> bytes:
    """zipfile on an unseekable stream: every member is followed by a data descriptor."""
    members = [_member(name, data, method) for name, (data, method) in STREAMED_FILES.items()]
    return make_zip(members, seekable=False)


def zip64_archive() -> bytes:
    return b"".join(stream_zip_chunks(stream_zip_members(ZIP64_ENTRIES, every=3)))


def zip64_expected(index: int) -> tuple[str, bytes]:
    for i, (name, data, _) in enumerate(stream_zip_members(index + 1, every=3)):
        if i == index:
            return name, data
    raise IndexError(index)


DEFLATE64_TEXT = text(200_000, 21)
FAR_COPY = deflate64_far_copy(noise(40_000, 23), 5000, 40_000)  # (compressed, plain)
CP437_NAME = "names/cp437-ü.txt"  # stored as b"\x81" without the UTF-8 flag
CRAFTED_FILES: dict[str, bytes] = {
    "deflate64/huffman.txt": DEFLATE64_TEXT,
    "deflate64/stored-blocks.bin": noise(100_000, 22),
    "deflate64/far-copy.bin": FAR_COPY[1],
    CP437_NAME: b"an old archiver wrote this name\n",
    "plain.txt": b"plain stored member in a crafted archive\n",
}
CRAFTED_UNREADABLE = {
    "encrypted.txt": 400,
    "method99.bin": 400,
    "folder-no-slash": 404,
    "dos-folder": 404,
    "crafted-link": 404,
}


def crafted_archive() -> bytes:
    huffman = deflate_raw(DEFLATE64_TEXT, strategy=zlib.Z_HUFFMAN_ONLY)
    blocks = CRAFTED_FILES["deflate64/stored-blocks.bin"]
    return raw_zip(
        [
            # Deflate64 streams that use none of its extensions decode like Deflate ones.
            Raw(b"deflate64/huffman.txt", huffman, DEFLATE64_TEXT, method=DEFLATE64),
            Raw(b"deflate64/stored-blocks.bin", deflate_raw(blocks, level=0), blocks, DEFLATE64),
            # Length code 285 and distance code 30: only a Deflate64 inflater gets this right.
            Raw(b"deflate64/far-copy.bin", FAR_COPY[0], FAR_COPY[1], DEFLATE64),
            Raw(b"names/cp437-\x81.txt", CRAFTED_FILES[CP437_NAME], CRAFTED_FILES[CP437_NAME]),
            Raw(b"plain.txt", CRAFTED_FILES["plain.txt"], CRAFTED_FILES["plain.txt"]),
            Raw(b"encrypted.txt", b"\x00" * 12 + b"secret", b"secret", flags=0x1),
            Raw(b"method99.bin", b"\x00" * 40, b"x" * 40, method=99),
            Raw(b"folder-no-slash", b"", external=(stat.S_IFDIR | 0o755) << 16),
            Raw(b"dos-folder", b"", external=0x10, made_by=20),
            Raw(b"crafted-link", b"plain.txt", b"plain.txt", external=(stat.S_IFLNK | 0o777) << 16),
            Raw(b"../evil.txt", b"outside\n", b"outside\n"),
            Raw(b"/abs.txt", b"absolute\n", b"absolute\n"),
        ]
    )


FEATURE_FILES = {"dist/app.js": b"feature branch app\n", "feature.txt": b"on feature/x\n"}


def feature_archive() -> bytes:
    return make_zip([_member(name, data, D) for name, data in FEATURE_FILES.items()])


def small_archive(files: dict[str, bytes]) -> bytes:
    return make_zip([_member(name, data, D) for name, data in files.items()])


SPLIT_A = {"raw/b.txt": b"from ref a, job split\n", "b.txt": b"ref a's own b.txt\n"}
SPLIT_A_RAW = {"b.txt": b"from ref a/raw, job split\n"}
SPLIT2_A_RAW = {"b.txt": b"from ref a/raw, job split2\n"}

# job id -> (pipeline id, job name, archive builder); broken ones are added by their tests.
UPLOADS: dict[int, tuple[int, str, Any]] = {
    11: (10, "build", main_archive),
    12: (10, "zip64", zip64_archive),
    13: (10, "crafted", crafted_archive),
    14: (10, "streamed", streamed_archive),
    21: (20, "build", main_archive),
    31: (30, "build", feature_archive),
    42: (40, "split", lambda: small_archive(SPLIT_A)),
    43: (41, "split", lambda: small_archive(SPLIT_A_RAW)),
    44: (41, "split2", lambda: small_archive(SPLIT2_A_RAW)),
}


# Jobs left running (so their token can upload) for the broken archives; pipeline 10.
BROKEN_JOBS = list(range(50, 70))


def document() -> dict[str, Any]:
    return files_world(
        [project(PUBLIC, "files/public", "public"), project(PRIVATE, "files/private", "private")],
        [
            pipeline(10, PUBLIC),
            pipeline(20, PRIVATE),
            pipeline(30, PUBLIC, ref="feature/x"),
            pipeline(40, PUBLIC, ref="a"),
            pipeline(41, PUBLIC, ref="a/raw"),
        ],
        [(job_id, p, name) for job_id, (p, name, _) in UPLOADS.items()]
        + [(job_id, 10, f"broken-{job_id}") for job_id in BROKEN_JOBS],
    )
