"""Content types of files served out of archives (CONTRACT section 8): by extension on the
job route; on the raw route sniffed as GitLab Workhorse does with Go's
http.DetectContentType (the WHATWG algorithm), every text/* becoming plain UTF-8 text so an
HTML or SVG file is never rendered from our origin."""

from __future__ import annotations

import pytest

from artifactsvc.api.mime import BINARY, TEXT, by_extension, sniff


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        pytest.param("notes.txt", TEXT, id="txt"),
        pytest.param("NOTES.TXT", TEXT, id="upper-case-extension"),
        pytest.param("dist/site.css", "text/css; charset=utf-8", id="css-with-charset"),
        pytest.param("index.html", "text/html; charset=utf-8", id="html-is-an-attachment"),
        pytest.param("data.json", "application/json", id="json"),
        pytest.param("image.png", "image/png", id="png"),
        pytest.param("image.svg", "image/svg+xml", id="svg"),
        pytest.param("report.pdf", "application/pdf", id="pdf"),
        pytest.param("bundle.zip", "application/zip", id="zip"),
        pytest.param("Makefile", BINARY, id="no-extension"),
        pytest.param("data.qqq", BINARY, id="unknown-extension"),
        pytest.param(".bashrc", BINARY, id="dot-file"),
        pytest.param("logs.gz", BINARY, id="gzip-has-no-type-in-pythons-table"),
        pytest.param(
            "logs.tar.gz",
            BINARY,
            id="tar-gz-is-its-last-extension",
            marks=pytest.mark.xfail(
                strict=True,
                reason="mime.py labels gzip bytes with the type of what they decompress to",
            ),
        ),
        pytest.param(
            "report.html.gz",
            BINARY,
            id="html-gz-is-not-html",
            marks=pytest.mark.xfail(
                strict=True,
                reason="mime.py labels gzip bytes with the type of what they decompress to",
            ),
        ),
    ],
)
def test_the_job_route_types_a_file_by_its_extension(name: str, content_type: str) -> None:
    assert by_extension(name) == content_type


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        pytest.param(b"", TEXT, id="empty"),
        pytest.param(b"hello world\n", TEXT, id="ascii"),
        pytest.param("Grüße, 世界\n".encode(), TEXT, id="utf-8"),
        pytest.param(b"caf\xe9", TEXT, id="latin-1-bytes"),
        pytest.param(b"<!DOCTYPE html><script>alert(1)</script>", TEXT, id="html-doctype"),
        pytest.param(b"  <HTML><body>", TEXT, id="html-after-spaces"),
        pytest.param(b"<svg onload=alert(1)>", TEXT, id="svg"),
        pytest.param(b'<?xml version="1.0"?><svg/>', TEXT, id="xml"),
        pytest.param(b'{"a": 1}', TEXT, id="json"),
        pytest.param(b"\xef\xbb\xbf<html>", TEXT, id="utf-8-bom"),
        pytest.param(b"\xfe\xff\x00<\x00h", TEXT, id="utf-16be-bom"),
        pytest.param(b"\xff\xfe<\x00h\x00", TEXT, id="utf-16le-bom"),
        pytest.param(PNG, "image/png", id="png"),
        pytest.param(b"GIF87a\x01\x00", "image/gif", id="gif87"),
        pytest.param(b"GIF89a\x01\x00", "image/gif", id="gif89"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", id="jpeg"),
        pytest.param(b"%PDF-1.7\n", "application/pdf", id="pdf"),
        pytest.param(b"PK\x03\x04\x14\x00", "application/zip", id="zip"),
        pytest.param(b"\x1f\x8b\x08\x00\x00\x00", "application/x-gzip", id="gzip"),
        pytest.param(b"\x00asm\x01\x00\x00\x00", "application/wasm", id="wasm"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00", BINARY, id="elf"),
        pytest.param(b"a\x00b", BINARY, id="nul"),
        pytest.param(b"\x01", BINARY, id="soh"),
        pytest.param(b"text\x08", BINARY, id="backspace"),
        pytest.param(b"\x0e", BINARY, id="shift-out"),
        pytest.param(b"\x1a", BINARY, id="substitute"),
        pytest.param(b"\x1c", BINARY, id="file-separator"),
        pytest.param(b"\x1f", BINARY, id="unit-separator"),
        pytest.param(
            b"a\x0bb",
            BINARY,
            id="vertical-tab",
            marks=pytest.mark.xfail(
                strict=True, reason="WHATWG/Go count 0x0B as binary; mime.py does not"
            ),
        ),
        pytest.param(b"\tcol\tcol\r\n\x0cpage", TEXT, id="tab-cr-lf-form-feed"),
        pytest.param(b"\x1b[31mred\x1b[0m\n", TEXT, id="escape-of-a-coloured-log"),
        pytest.param(b"\x7f", TEXT, id="delete"),
        pytest.param(b"a" * 512 + b"\x00", TEXT, id="binary-byte-after-512"),
        pytest.param(b"a" * 511 + b"\x00", BINARY, id="binary-byte-at-512"),
    ],
)
def test_the_raw_route_sniffs_the_first_bytes(head: bytes, content_type: str) -> None:
    assert sniff(head) == content_type


@pytest.mark.parametrize(
    "head",
    [b"<html>", b"<!DOCTYPE HTML>", b"<svg xmlns='http://www.w3.org/2000/svg'>", b"<script>"],
)
def test_nothing_sniffed_is_ever_html(head: bytes) -> None:
    assert not sniff(head).startswith(("text/html", "image/svg"))
