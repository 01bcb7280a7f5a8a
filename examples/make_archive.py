"""Builds examples/artifacts.zip, the archive the quickstart's sample job carries.

    python examples/make_archive.py [OUT]     (default: examples/artifacts.zip next to this)

What a test job leaves behind: an HTML coverage report (a page, its stylesheet, a script and
a PNG badge), a JUnit report, a build log and a README. Deterministic: every entry has the
same fixed time and permissions, the PNG is drawn from arithmetic, and entries are written in
a fixed order, so a rebuild gives identical bytes (tests/cli/test_readme.py checks that the
committed archive is a fresh build). The PNG is stored, everything else deflated at level 9;
deflate's output is fixed for a given zlib, and has not changed across zlib 1.2 and 1.3.
"""

from __future__ import annotations

import struct
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
# A fixed time for every entry (zip keeps local time at 2-second precision, no zone).
STAMP = (2015, 12, 24, 17, 54, 30)

COVERAGE_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Coverage report: 87%</title>
  <link rel="stylesheet" href="style.css">
  <script src="coverage.js" defer></script>
</head>
<body>
  <h1>Coverage report <img src="badge.png" alt="87%" width="32" height="16"></h1>
  <table id="files">
    <thead><tr><th>File</th><th>Statements</th><th>Missed</th><th>Coverage</th></tr></thead>
    <tbody>
      <tr><td>app/models/user.rb</td><td>48</td><td>2</td><td class="high">96%</td></tr>
      <tr><td>app/models/project.rb</td><td>61</td><td>9</td><td class="mid">85%</td></tr>
      <tr><td>lib/ci/runner.rb</td><td>40</td><td>8</td><td class="mid">80%</td></tr>
    </tbody>
    <tfoot><tr><td>Total</td><td>149</td><td>19</td><td>87%</td></tr></tfoot>
  </table>
</body>
</html>
"""

STYLE_CSS = """body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.high { background: #c8f0c8; }
.mid { background: #f0ecc8; }
"""

COVERAGE_JS = """// Sorts the table by a column when its header is clicked.
document.querySelectorAll("#files th").forEach((th, column) => {
  th.addEventListener("click", () => {
    const body = document.querySelector("#files tbody");
    const rows = [...body.rows];
    rows.sort((a, b) => a.cells[column].textContent.localeCompare(
      b.cells[column].textContent, undefined, { numeric: true }));
    rows.forEach((row) => body.appendChild(row));
  });
});
"""

JUNIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="rspec" tests="4" failures="0" errors="0" skipped="1" time="0.465">
  <testsuite name="models" tests="3" failures="0" errors="0" skipped="1" time="0.312">
    <testcase classname="User" name="validates the username" time="0.101"/>
    <testcase classname="User" name="hashes tokens" time="0.120"/>
    <testcase classname="Project" name="resolves its full path" time="0.091">
      <skipped message="pending: needs a namespace fixture"/>
    </testcase>
  </testsuite>
  <testsuite name="ci" tests="1" failures="0" errors="0" skipped="0" time="0.153">
    <testcase classname="Ci::Runner" name="picks a job" time="0.153"/>
  </testsuite>
</testsuites>
"""

BUILD_LOG = """$ bundle exec rubocop --format junit --out reports/junit.xml
Inspecting 149 files
149 files inspected, no offenses detected
$ bundle exec rspec
4 examples, 0 failures, 1 pending
Coverage report generated: coverage/index.html (87%)
"""

README_TXT = """Artifacts of the sample job `rubocop` (job 8 of project foo/bar).

coverage/index.html   the coverage report (open it in the browse page)
junit.xml             the test report, also at reports/junit.xml
build/log.txt         what the job printed
"""


def png(width: int, height: int) -> bytes:
    """A small RGB PNG, green left of 87% of its width and grey right of it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    split = width * 87 // 100
    row = b"".join(b"\x2e\xa0\x43" if x < split else b"\x9e\x9e\x9e" for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))  # filter type 0 on each row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def members() -> list[tuple[str, bytes]]:
    """The archive's entries in the order they are written."""
    junit = JUNIT_XML.encode()
    return [
        ("README.txt", README_TXT.encode()),
        ("build/log.txt", BUILD_LOG.encode()),
        ("coverage/index.html", COVERAGE_HTML.encode()),
        ("coverage/style.css", STYLE_CSS.encode()),
        ("coverage/coverage.js", COVERAGE_JS.encode()),
        ("coverage/badge.png", png(32, 16)),
        ("junit.xml", junit),
        ("reports/junit.xml", junit),
    ]


def build(out: Path) -> None:
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members():
            info = zipfile.ZipInfo(name, date_time=STAMP)
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = 0o100644 << 16
            if name.endswith(".png"):  # already compressed
                archive.writestr(info, data, compress_type=zipfile.ZIP_STORED)
            else:
                archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "artifacts.zip")
