"""Every kind of member comes back byte for byte through both single-file routes (CONTRACT 8).

Zip64 (more than 65,535 entries, from stream_zip), data descriptors (stream_zip, and zipfile
on an unseekable stream), Store, Deflate, bzip2, LZMA and Deflate64, empty files, and names
with unicode, spaces, quotes, `%`, `+`, odd punctuation and `raw` segments.
"""

from __future__ import annotations

import contextlib
import io
import unicodedata
import zipfile
import zlib
from urllib.parse import quote

import pytest

from tests.files.conftest import World
from tests.files.world import (
    CP437_NAME,
    CRAFTED_FILES,
    CRAFTED_UNREADABLE,
    FAR_COPY,
    MAIN_FILES,
    STREAMED_FILES,
    ZIP64_ENTRIES,
    zip64_expected,
)
from tests.support.zips import DEFLATE64, infos

P = "/api/v4/projects/1"


def by_job(job_id: int, name: str, *, project: str = "1") -> str:
    return f"/api/v4/projects/{project}/jobs/{job_id}/artifacts/{quote(name, safe='/')}"


def by_ref(ref: str, job_name: str, name: str) -> str:
    return f"{P}/jobs/artifacts/{ref}/raw/{quote(name, safe='/')}?job={job_name}"


ZIP64_SAMPLES = [0, 1, 2, 3, 65_534, 65_535, 65_536, 65_537, ZIP64_ENTRIES - 1]
CASES = (
    [(11, "build", name, data) for name, (data, _) in MAIN_FILES.items() if name != "dup.txt"]
    + [(11, "build", "dir/inside.txt", b"inside a directory entry\n")]
    + [(14, "streamed", name, data) for name, (data, _) in STREAMED_FILES.items()]
    + [(13, "crafted", name, data) for name, data in CRAFTED_FILES.items()]
    + [(12, "zip64", *zip64_expected(i)) for i in ZIP64_SAMPLES]
)


@pytest.mark.parametrize("route", ["job", "ref"])
@pytest.mark.parametrize(
    ("job_id", "job_name", "name", "expected"),
    CASES,
    ids=[f"{job_id}:{name}" for job_id, _, name, _ in CASES],
)
def test_member_is_served_byte_exact(
    world: World, route: str, job_id: int, job_name: str, name: str, expected: bytes
) -> None:
    url = by_job(job_id, name) if route == "job" else by_ref("master", job_name, name)

    response = world.client.get(url)

    assert response.status_code == 200, response.text
    assert response.content == expected
    assert response.headers["content-length"] == str(len(expected))
    assert "content-encoding" not in response.headers


def test_every_file_of_the_main_archive_matches_what_zipfile_reads(world: World) -> None:
    archive = world.archives[11]
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for name, info in infos(archive).items():
            if info.is_dir() or (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue
            response = world.client.get(by_job(11, name))
            assert (response.status_code, response.content) == (200, zf.read(info)), name


def test_the_fixtures_cover_what_they_claim(world: World) -> None:
    """Guards the other tests: zip64 end records, data descriptors, each compression method."""
    zip64 = world.archives[12]
    zip64_infos = zipfile.ZipFile(io.BytesIO(zip64)).infolist()
    assert len(zip64_infos) == ZIP64_ENTRIES > 0xFFFF
    assert b"PK\x06\x06" in zip64[-200:] and b"PK\x06\x07" in zip64[-200:]
    assert {i.compress_type for i in zip64_infos} == {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
    assert any(i.flag_bits & 0x08 for i in zip64_infos)  # stream_zip's data descriptors
    streamed = zipfile.ZipFile(io.BytesIO(world.archives[14])).infolist()
    assert all(i.flag_bits & 0x08 for i in streamed)
    assert any(i.compress_type == zipfile.ZIP_STORED and i.file_size for i in streamed)
    main = {i.compress_type for i in zipfile.ZipFile(io.BytesIO(world.archives[11])).infolist()}
    assert main == {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
    crafted = zipfile.ZipFile(io.BytesIO(world.archives[13])).infolist()
    assert [i.compress_type for i in crafted[:3]] == [DEFLATE64] * 3
    assert not crafted[3].flag_bits & 0x800 and crafted[3].filename == CP437_NAME


def test_a_name_stored_twice_resolves_to_its_first_occurrence(world: World) -> None:
    for url in (by_job(11, "dup.txt"), by_ref("master", "build", "dup.txt")):
        response = world.client.get(url)
        assert (response.status_code, response.content) == (200, b"first occurrence\n")


@pytest.mark.parametrize(
    ("name", "status"),
    [("dir", 404), ("dir/", 400), ("link", 404), ("escape-link", 404), *CRAFTED_UNREADABLE.items()],
)
def test_directories_symlinks_and_unreadable_members_are_refused_with_json(
    world: World, name: str, status: int
) -> None:
    job_id, job_name = (13, "crafted") if name in CRAFTED_UNREADABLE else (11, "build")
    for url in (by_job(job_id, name), by_ref("master", job_name, name)):
        response = world.client.get(url)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["message"].startswith(str(status))


def test_encrypted_member_message_says_why(world: World) -> None:
    response = world.client.get(by_job(13, "encrypted.txt"))

    assert response.json() == {"message": "400 Bad request - encrypted member"}


@pytest.mark.parametrize(
    ("sent", "status", "expected"),
    [
        ("names/plus+sign+.txt", 200, "names/plus+sign+.txt"),  # + stays +
        ("names/plus%2Bsign%2B.txt", 200, "names/plus+sign+.txt"),
        ("names/100%.txt", 200, "names/100%.txt"),  # a lone % stays literal
        ("names/%zz.txt", 200, "names/%zz.txt"),
        ("names/100%25.txt", 200, "names/100%.txt"),
        ("names/percent%2541.txt", 200, "names/percent%41.txt"),  # decoded once
        ("names/percent%41.txt", 404, None),  # ... so this one means percentA.txt
        ("names/question%3Fmark.txt", 200, "names/question?mark.txt"),
        ("names/with space.txt", 200, "names/with space.txt"),
        ("names/with%20space.txt", 200, "names/with%20space.txt".replace("%20", " ")),
        ("names/back%5Cslash.txt", 200, "names/back\\slash.txt"),
        ("names/CASEFILE.TXT", 404, None),
        (quote(unicodedata.normalize("NFD", "names/café.txt")), 404, None),  # no normalising
        (quote("names/café.txt"), 200, "names/café.txt"),
        ("names/%E2%80%A6", 404, None),  # "…" is not "..."
    ],
)
def test_path_decoding_is_exact(world: World, sent: str, status: int, expected: str | None) -> None:
    for url in (f"{P}/jobs/11/artifacts/{sent}", f"{P}/jobs/artifacts/master/raw/{sent}?job=build"):
        response = world.client.get(url)
        assert response.status_code == status, (url, response.text)
        if expected is not None:
            assert response.content == MAIN_FILES[expected][0]


def test_project_addressed_by_encoded_full_path(world: World) -> None:
    response = world.client.get(by_job(11, "hello.txt", project="files%2Fpublic"))

    assert (response.status_code, response.content) == (200, b"hello, world\n")


def test_deflate64_is_really_deflate64_on_the_wire(world: World) -> None:
    """zipfile refuses method 9, and zlib (Deflate) reads the far copy wrong: the bytes served
    can only come from a Deflate64 inflater."""
    with (
        zipfile.ZipFile(io.BytesIO(world.archives[13])) as zf,
        pytest.raises(NotImplementedError),
    ):
        zf.read("deflate64/huffman.txt")
    compressed, plain = FAR_COPY
    with contextlib.suppress(zlib.error):
        assert zlib.decompress(compressed, -15) != plain
    for name in ("deflate64/huffman.txt", "deflate64/far-copy.bin"):
        response = world.client.get(by_job(13, name))
        assert response.content == CRAFTED_FILES[name]
