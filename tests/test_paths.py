"""Artifact path rules (CONTRACT section 5): what can name an archive member, and what is
refused before storage is touched. Pure functions, one table each."""

from __future__ import annotations

import pytest

from artifactsvc.errors import InvalidPath
from artifactsvc.paths import basename, validate_artifact_path, validate_directory

ACCEPTED = [
    pytest.param("a.txt", id="plain"),
    pytest.param("dist/app.js", id="nested"),
    pytest.param("a/b/c/d/e.txt", id="deep"),
    pytest.param("Grüße/世界.txt", id="unicode"),
    pytest.param("📦/🚀.txt", id="astral-plane"),
    pytest.param("a+b.txt", id="plus-stays-plus"),
    pytest.param("100%.txt", id="percent"),
    pytest.param("a%2Fb", id="escape-not-decoded-again"),
    pytest.param("%", id="lone-percent"),
    pytest.param("with spaces.txt", id="spaces"),
    pytest.param("a\u00a0b", id="no-break-space-after-c1"),
    pytest.param(".hidden", id="dot-file"),
    pytest.param("a/...", id="three-dots"),
    pytest.param("..a", id="dots-prefix"),
    pytest.param("a..", id="dots-suffix"),
    pytest.param("back\\slash", id="backslash"),
    pytest.param("x" * 4096, id="4096-bytes"),
    pytest.param("é" * 2048, id="4096-bytes-of-2-byte-chars"),
    pytest.param("€" * 1365 + "x", id="4096-bytes-of-3-byte-chars"),
    pytest.param("d/" * 2047 + "xx", id="4096-bytes-in-segments"),
]

REFUSED = [
    pytest.param("", id="empty"),
    pytest.param("\x00", id="nul"),
    pytest.param("a\x00b", id="nul-inside"),
    pytest.param("hello.txt\x00.png", id="nul-before-extension"),
    pytest.param("a\x01b", id="soh"),
    pytest.param("a\tb", id="tab"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\rb", id="carriage-return"),
    pytest.param("a\x1b[0m", id="escape"),
    pytest.param("\x1f", id="unit-separator"),
    pytest.param("a\x7fb", id="delete"),
    pytest.param("a\x80b", id="c1-first"),
    pytest.param("a\x85b", id="next-line"),
    pytest.param("a\x9fb", id="c1-last"),
    pytest.param("/etc/passwd", id="leading-slash"),
    pytest.param("/", id="slash"),
    pytest.param("a//b", id="empty-segment"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dot-dot"),
    pytest.param("./a", id="leading-dot-segment"),
    pytest.param("a/./b", id="inner-dot-segment"),
    pytest.param("../a", id="leading-traversal"),
    pytest.param("a/../b", id="inner-traversal"),
    pytest.param("a/..", id="trailing-traversal"),
    pytest.param("\udcff.txt", id="invalid-utf8-as-surrogate"),
    pytest.param("a/\udc80\udc80", id="invalid-utf8-in-segment"),
    pytest.param("\ud83d", id="lone-high-surrogate"),
    pytest.param("x" * 4097, id="4097-bytes"),
    pytest.param("é" * 2048 + "x", id="4097-bytes-of-2-byte-chars"),
    pytest.param("€" * 1366, id="4098-bytes-of-3-byte-chars"),
]


@pytest.mark.parametrize("path", ACCEPTED)
def test_a_path_that_can_name_a_member_is_returned_unchanged(path: str) -> None:
    assert validate_artifact_path(path) == path


@pytest.mark.parametrize("path", REFUSED)
def test_a_path_that_can_never_name_a_member_is_refused(path: str) -> None:
    with pytest.raises(InvalidPath):
        validate_artifact_path(path)


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        pytest.param(None, "", id="absent-is-root"),
        pytest.param("", "", id="empty-is-root"),
        pytest.param("/", "", id="slash-is-root"),
        pytest.param("dist", "dist", id="folder"),
        pytest.param("dist/", "dist", id="trailing-slash-dropped"),
        pytest.param("a/b/", "a/b", id="nested-trailing-slash"),
        pytest.param("Grüße+100%", "Grüße+100%", id="unicode-plus-percent"),
    ],
)
def test_a_listing_folder_is_a_valid_path_without_its_trailing_slash(
    folder: str | None, expected: str
) -> None:
    assert validate_directory(folder) == expected


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param("/dist", id="leading-slash"),
        pytest.param("a/../b", id="traversal"),
        pytest.param("..", id="dot-dot"),
        pytest.param("./", id="dot"),
        pytest.param("a//b", id="empty-segment"),
        pytest.param("a\x00", id="nul"),
        pytest.param("a\x01/", id="control"),
        pytest.param("\udcff/", id="invalid-utf8"),
        pytest.param("x" * 4097, id="too-long"),
    ],
)
def test_a_listing_folder_that_is_not_a_valid_path_is_refused(folder: str) -> None:
    with pytest.raises(InvalidPath):
        validate_directory(folder)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("a.txt", "a.txt", id="no-folder"),
        pytest.param("dist/app.js", "app.js", id="one-folder"),
        pytest.param("a/b/c/d.tar.gz", "d.tar.gz", id="deep"),
        pytest.param("世界/файл.txt", "файл.txt", id="unicode"),
        pytest.param("a+b/c%2Fd", "c%2Fd", id="escapes-kept"),
    ],
)
def test_basename_is_the_last_segment(path: str, expected: str) -> None:
    assert basename(path) == expected
