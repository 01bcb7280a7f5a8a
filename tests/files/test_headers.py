"""Headers of a single file (CONTRACT 8): length, disposition, type, nosniff, ranges, 304, HEAD."""

from __future__ import annotations

import pytest

from tests.files.conftest import World
from tests.files.test_formats import by_job, by_ref
from tests.files.world import MAIN_FILES

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"


def both(name: str) -> list[str]:
    return [by_job(11, name), by_ref("master", "build", name)]


@pytest.mark.parametrize("name", ["deflated/big.log", "methods/bzip2.txt", "stored/mid.bin"])
def test_content_length_is_the_uncompressed_size_and_nothing_is_encoded(
    world: World, name: str
) -> None:
    for url in both(name):
        response = world.client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert response.headers["content-length"] == str(len(MAIN_FILES[name][0]))
        assert "content-encoding" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    ("name", "disposition"),
    [
        ("hello.txt", "attachment; filename=\"hello.txt\"; filename*=UTF-8''hello.txt"),
        (
            'names/double"quote.txt',
            'attachment; filename="double\\"quote.txt"; filename*=UTF-8\'\'double%22quote.txt',
        ),
        (
            "names/back\\slash.txt",
            "attachment; filename=\"back\\\\slash.txt\"; filename*=UTF-8''back%5Cslash.txt",
        ),
        (
            "names/unicode-ünïcødé-日本語.txt",
            "attachment; filename=\"unicode-_n_c_d_-___.txt\"; filename*=UTF-8''unicode-"
            "%C3%BCn%C3%AFc%C3%B8d%C3%A9-%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
        ),
        (
            "names/with space.txt",
            "attachment; filename=\"with space.txt\"; filename*=UTF-8''with%20space.txt",
        ),
        (
            "names/single'quote.txt",
            "attachment; filename=\"single'quote.txt\"; filename*=UTF-8''single%27quote.txt",
        ),
    ],
)
def test_content_disposition_is_an_escaped_attachment_of_the_basename(
    world: World, name: str, disposition: str
) -> None:
    for url in both(name):
        assert world.client.get(url).headers["content-disposition"] == disposition


@pytest.mark.parametrize(
    ("name", "by_extension", "sniffed"),
    [
        ("hello.txt", TEXT, TEXT),
        ("index.html", "text/html; charset=utf-8", TEXT),
        ("image.svg", "image/svg+xml", TEXT),
        ("data.json", "application/json", TEXT),
        ("image.png", "image/png", "image/png"),
        ("binary.txt", TEXT, BINARY),
        ("unknown.qqq", BINARY, TEXT),
        ("noext", BINARY, TEXT),
        ("stored/big.bin", BINARY, BINARY),
        ("empty.txt", TEXT, TEXT),
        ("empty.html", "text/html; charset=utf-8", TEXT),
    ],
)
def test_content_type_by_extension_on_the_job_route_and_sniffed_on_the_raw_route(
    world: World, name: str, by_extension: str, sniffed: str
) -> None:
    assert world.client.get(by_job(11, name)).headers["content-type"] == by_extension
    assert world.client.get(by_ref("master", "build", name)).headers["content-type"] == sniffed


@pytest.mark.parametrize(
    "request_headers",
    [{}, {"Range": "bytes=5-"}, {"Range": "bytes=-3"}, {"Range": "bytes=0-3"}],
    ids=["HEAD", "range-from-5", "suffix", "first-bytes"],
)
@pytest.mark.parametrize(("name", "sniffed"), [("index.html", TEXT), ("image.png", "image/png")])
def test_raw_route_type_does_not_depend_on_the_bytes_sent(
    world: World, request_headers: dict[str, str], name: str, sniffed: str
) -> None:
    """HEAD and every range get the type the whole file gets: never text/html."""
    url = by_ref("master", "build", name)
    method = "HEAD" if not request_headers else "GET"

    response = world.client.request(method, url, headers=request_headers)

    assert response.status_code in (200, 206)
    assert response.headers["content-type"] == sniffed


RANGED = ["stored/mid.bin", "deflated/big.log", "stored/big.bin", "methods/bzip2.txt"]
SPECS = ["0-0", "100-199", "-500", "1000-", "LAST-", "0-HUGE", "250000-262500", "1500000-1500099"]
RANGE_CASES = [
    (name, spec)
    for name in RANGED
    for spec in SPECS
    if not spec[0].isdigit() or int(spec.split("-")[0]) < len(MAIN_FILES[name][0])
]


@pytest.mark.parametrize(("name", "spec"), RANGE_CASES)
def test_range_returns_exactly_the_slice(world: World, name: str, spec: str) -> None:
    data = MAIN_FILES[name][0]
    size = len(data)
    spec = spec.replace("LAST", str(size - 1)).replace("HUGE", str(size + 10_000))
    first, _, last = spec.partition("-")
    start = size - int(last) if not first else int(first)
    end = size - 1 if not first or not last else min(int(last), size - 1)
    for url in both(name):
        response = world.client.get(url, headers={"Range": f"bytes={spec}"})
        assert response.status_code == 206, response.text
        assert response.content == data[start : end + 1]
        assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("name", ["stored/mid.bin", "deflated/big.log", "empty.txt"])
def test_unsatisfiable_range_is_416_with_the_size(world: World, name: str) -> None:
    size = len(MAIN_FILES[name][0])
    for url in both(name):
        response = world.client.get(url, headers={"Range": f"bytes={size}-"})
        assert response.status_code == 416
        assert response.headers["content-range"] == f"bytes */{size}"
        assert response.json() == {"message": "416 Range Not Satisfiable"}


def test_if_range_honours_a_matching_validator_and_ignores_a_stale_one(world: World) -> None:
    data = MAIN_FILES["deflated/big.log"][0]
    for url in both("deflated/big.log"):
        full = world.client.get(url)
        etag, modified = full.headers["etag"], full.headers["last-modified"]
        for validator in (etag, modified):
            partial = world.client.get(url, headers={"Range": "bytes=10-19", "If-Range": validator})
            assert (partial.status_code, partial.content) == (206, data[10:20])
        for stale in ('"some-other-etag"', "Thu, 01 Jan 1970 00:00:00 GMT"):
            whole = world.client.get(url, headers={"Range": "bytes=10-19", "If-Range": stale})
            assert (whole.status_code, whole.content) == (200, data)


def test_if_none_match_gives_304_without_a_body(world: World) -> None:
    for url in both("hello.txt"):
        etag = world.client.get(url).headers["etag"]
        for sent in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
            response = world.client.get(url, headers={"If-None-Match": sent})
            assert (response.status_code, response.content) == (304, b"")
            assert response.headers["etag"] == etag
        assert world.client.get(url, headers={"If-None-Match": '"nope"'}).status_code == 200


def test_each_member_has_its_own_etag(world: World) -> None:
    tags = {world.client.get(by_job(11, name)).headers["etag"] for name in MAIN_FILES}
    archive = world.client.head("/api/v4/projects/1/jobs/11/artifacts").headers["etag"]

    assert len(tags) == len(MAIN_FILES) and archive not in tags


@pytest.mark.parametrize("name", ["deflated/big.log", "hello.txt", "empty.txt", "index.html"])
def test_head_has_the_headers_of_get_and_no_body(world: World, name: str) -> None:
    for url in both(name):
        got = world.client.get(url)
        head = world.client.head(url)
        assert (head.status_code, head.content) == (200, b"")
        for header in ("content-length", "content-type", "content-disposition", "etag"):
            assert head.headers[header] == got.headers[header], header


def test_head_of_a_missing_file_is_404(world: World) -> None:
    for url in both("no/such/file.txt"):
        assert world.client.head(url).status_code == 404
