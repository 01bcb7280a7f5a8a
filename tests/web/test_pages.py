"""Each page renders what GitLab's shows, for the seeded world, from a real server."""

from __future__ import annotations

import io
import re
import zipfile

import httpx2
import pytest

from tests.support.pages import (
    ALICE_TOKEN,
    BIG_FOLDER,
    PRIVATE,
    PUBLIC,
    ROOT_TOKEN,
    archive,
    signed_in,
)
from tests.support.processes import ServerProcess

JOB = f"/{PRIVATE}/-/jobs/7"
ARTIFACTS = f"{JOB}/artifacts"


@pytest.fixture
def alice(web: httpx2.Client) -> httpx2.Client:
    return signed_in(web, ALICE_TOKEN)


def rows(html: str) -> list[str]:
    """The names in a browse page's table, in order."""
    return re.findall(r'<tr class="(?:folder|file)"><td><a href="[^"]+">([^<]+)</a>', html)


def test_the_job_page_shows_the_job_its_pipeline_and_its_artifacts(alice: httpx2.Client) -> None:
    response = alice.get(JOB)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<meta name="viewport"' in html
    assert "<h1>" in html and "build" in html and "#7" in html
    assert "<dt>Stage</dt><dd>build</dd>" in html
    assert "<dt>Status</dt><dd>success</dd>" in html
    assert "2015-12-24 15:51:21 UTC" in html  # created
    assert "<dt>Started</dt><dd>2015-12-24 17:54:27 UTC</dd>" in html
    assert "<dt>Finished</dt><dd>2015-12-24 17:55:32 UTC</dd>" in html
    assert "<dt>Duration</dt><dd>01:05</dd>" in html
    assert f'href="/{PRIVATE}/-/pipelines/6"' in html
    assert "<td>archive</td><td>artifacts.zip</td>" in html or "<td>archive</td>" in html
    assert "2099-01-01 00:00:00 UTC" in html  # its expiry
    assert f'href="{ARTIFACTS}/download"' in html
    assert f'href="{ARTIFACTS}/browse"' in html
    assert f'action="{ARTIFACTS}/keep"' in html  # alice is a developer
    assert f'action="{ARTIFACTS}/delete"' not in html  # and no maintainer
    assert f'href="{JOB}/raw"' in html


def test_an_anonymous_viewer_gets_no_buttons(web: httpx2.Client) -> None:
    html = web.get(f"/{PUBLIC}/-/jobs/21").text

    assert "/artifacts/keep" not in html and "/artifacts/delete" not in html
    assert "Sign in" in html


def test_the_log_is_coloured_and_its_sections_collapse(alice: httpx2.Client) -> None:
    html = alice.get(JOB).text

    log = html[html.index('<pre class="log">') :]
    assert '<span class="ansi1 ansi36">Preparing environment</span>' in log
    assert '<span class="ansi1 ansi32">$ make test</span>' in log
    assert "ok &lt;tests&gt; &amp; done" in log  # the log's text escaped, never markup
    # prepare_script: open, 3 s; step_script: [collapsed=true], 62 s.
    assert re.search(r'<details class="section" open data-section="prepare_script">', log)
    assert re.search(r'<details class="section" data-section="step_script">', log)
    assert '<span class="dur">00:03</span>' in log and '<span class="dur">01:02</span>' in log
    assert "section_start" not in log and "section_end" not in log and "\x1b" not in log
    # The section's lines are inside its <details>.
    step = log[log.index('data-section="step_script"') :]
    assert step.index("make test") < step.index("</details>")


def test_a_long_log_shows_its_end_and_links_the_whole(alice: httpx2.Client) -> None:
    html = alice.get(f"/{PRIVATE}/-/jobs/12").text

    assert "Showing the last part of the log" in html
    assert f'href="/{PRIVATE}/-/jobs/12/raw">complete raw log' in html
    assert "the end" in html and "step 0000000" not in html
    assert len(html) < 4 << 20


def test_the_raw_log_is_plain_text(alice: httpx2.Client) -> None:
    response = alice.get(f"{JOB}/raw")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "section_start:1700000003:step_script" in response.text


def test_the_pipeline_page_groups_jobs_and_bridges_by_stage(alice: httpx2.Client) -> None:
    html = alice.get(f"/{PRIVATE}/-/pipelines/6").text

    stages = re.findall(r'<section class="stage">\s*<h2>([^<]+)</h2>', html)
    assert stages == ["build", "test", "deploy"]
    assert f'<a href="/{PRIVATE}/-/jobs/7">build</a>' in html
    assert f'<a href="/{PRIVATE}/-/jobs/8">unit</a>' in html
    assert '<span class="status status-failed">failed</span>' in html
    assert '<span class="bridge">trigger</span>' in html
    assert f'href="/{PUBLIC}/-/pipelines/20"' in html  # the bridge's downstream pipeline


def test_the_pipelines_page_links_each_pipeline(alice: httpx2.Client) -> None:
    html = alice.get(f"/{PRIVATE}/-/pipelines").text

    assert f'href="/{PRIVATE}/-/pipelines/6"' in html


def test_browse_lists_folders_first_with_sizes_modes_and_links(alice: httpx2.Client) -> None:
    html = alice.get(f"{ARTIFACTS}/browse").text

    assert rows(html) == [
        "bin/", "coverage/", "docs/", "images/", "logs/", "many/", "README.md", "report.pdf"
    ]  # fmt: skip
    assert f'href="{ARTIFACTS}/browse/docs"' in html
    assert f'href="{ARTIFACTS}/download?path=docs"' in html  # the folder as a zip
    assert f'href="{ARTIFACTS}/file/README.md"' in html
    assert f'href="{ARTIFACTS}/raw/README.md"' in html
    assert re.search(r'README\.md</a></td><td class="num">52 B</td><td class="mode">000644', html)


def test_a_symlink_is_listed_but_not_linked(alice: httpx2.Client) -> None:
    html = alice.get(f"{ARTIFACTS}/browse/docs").text

    assert '<tr class="symlink"><td>latest <span class="muted small">symlink</span>' in html
    assert f"{ARTIFACTS}/file/docs/latest" not in html
    assert alice.get(f"{ARTIFACTS}/file/docs/latest").status_code == 404


def test_browse_walks_into_a_folder_with_breadcrumbs(alice: httpx2.Client) -> None:
    html = alice.get(f"{ARTIFACTS}/browse/docs/deep").text

    assert rows(html) == ["note.txt"]
    crumbs = html[html.index('class="crumbs"') : html.index("</nav>", html.index('"crumbs"'))]
    assert f'<a href="{ARTIFACTS}/browse">artifacts</a>' in crumbs
    assert f'<a href="{ARTIFACTS}/browse/docs">docs</a>' in crumbs
    assert "<span>deep</span>" in crumbs
    assert f'href="{ARTIFACTS}/file/docs/deep/note.txt"' in html


def test_browse_pages_a_folder_larger_than_a_page(alice: httpx2.Client) -> None:
    first = alice.get(f"{ARTIFACTS}/browse/many").text
    last = alice.get(f"{ARTIFACTS}/browse/many?page=3").text

    assert len(rows(first)) == 100 and rows(first)[0] == "file-000.txt"
    assert f'rel="next" href="{ARTIFACTS}/browse/many?page=2"' in first
    assert 'rel="prev"' not in first
    assert f"Page 1 of 3 ({BIG_FOLDER} entries)" in first
    assert rows(last) == [f"file-{n:03d}.txt" for n in range(200, BIG_FOLDER)]
    assert f'rel="prev" href="{ARTIFACTS}/browse/many?page=2"' in last
    assert 'rel="next"' not in last
    assert alice.get(f"{ARTIFACTS}/browse/many?page=0").status_code == 400


def test_browse_by_ref_redirects_to_the_latest_successful_job(alice: httpx2.Client) -> None:
    response = alice.get(f"/{PRIVATE}/-/jobs/artifacts/master/browse/docs?job=build")

    assert response.status_code == 302
    assert response.headers["location"] == f"{ARTIFACTS}/browse/docs"
    root = alice.get(f"/{PRIVATE}/-/jobs/artifacts/master/browse?job=build")
    assert root.headers["location"] == f"{ARTIFACTS}/browse"
    file = alice.get(f"/{PRIVATE}/-/jobs/artifacts/master/file/README.md?job=build")
    assert file.headers["location"] == f"{ARTIFACTS}/file/README.md"
    assert alice.get(f"/{PRIVATE}/-/jobs/artifacts/master/browse?job=nope").status_code == 404
    assert alice.get(f"/{PRIVATE}/-/jobs/artifacts/master/browse").status_code == 400


def test_browse_by_a_ref_with_a_slash_finds_that_refs_job(alice: httpx2.Client) -> None:
    raw = alice.get(f"/{PRIVATE}/-/jobs/artifacts/feature/x/browse?job=build")
    encoded = alice.get(f"/{PRIVATE}/-/jobs/artifacts/feature%2Fx/file/index.txt?job=build")

    assert raw.headers["location"] == f"/{PRIVATE}/-/jobs/13/artifacts/browse"
    assert encoded.headers["location"] == f"/{PRIVATE}/-/jobs/13/artifacts/file/index.txt"


def test_a_text_file_is_shown_with_line_numbers(alice: httpx2.Client) -> None:
    html = alice.get(f"{ARTIFACTS}/file/README.md").text

    assert '<span class="line"><span class="ln">1</span># Build output</span>' in html
    assert '<span class="ln">3</span>line two &lt;b&gt;not bold&lt;/b&gt;</span>' in html
    assert f'href="{ARTIFACTS}/raw/README.md"' in html


def test_a_long_text_file_shows_its_first_mebibyte(alice: httpx2.Client) -> None:
    html = alice.get(f"{ARTIFACTS}/file/logs/big.log").text

    assert "Showing the first 1.0 MiB" in html
    assert "line 0000000 of a long file" in html
    assert "line 0044999" not in html  # past the first MiB
    assert f'href="{ARTIFACTS}/raw/logs/big.log">the whole file, raw' in html


def test_an_image_and_a_pdf_are_shown_inline(alice: httpx2.Client) -> None:
    image = alice.get(f"{ARTIFACTS}/file/images/logo.png").text
    document = alice.get(f"{ARTIFACTS}/file/report.pdf").text
    binary = alice.get(f"{ARTIFACTS}/file/bin/tool").text

    assert f'<img src="{ARTIFACTS}/raw/images/logo.png" alt="logo.png">' in image
    assert f'<embed class="pdf" src="{ARTIFACTS}/raw/report.pdf" type="application/pdf">' in (
        document
    )
    assert "Binary file" in binary


def test_raw_serves_the_member_inline(alice: httpx2.Client) -> None:
    members = zipfile.ZipFile(io.BytesIO(archive()))
    image = alice.get(f"{ARTIFACTS}/raw/images/logo.png")
    page = alice.get(f"{ARTIFACTS}/raw/coverage/index.html")

    assert image.status_code == 200
    assert image.content == members.read("images/logo.png")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith('inline; filename="logo.png"')
    # HTML runs only as a report, under its capability; raw, it is text.
    assert page.headers["content-type"] == "text/plain; charset=utf-8"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_download_gives_the_archive_or_one_folder(alice: httpx2.Client) -> None:
    whole = alice.get(f"{ARTIFACTS}/download")
    folder = alice.get(f"{ARTIFACTS}/download", params={"path": "docs"})

    assert whole.status_code == 200 and whole.content == archive()
    assert "attachment" in whole.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(folder.content)).namelist()
    assert set(names) >= {"docs/guide.txt", "docs/deep/note.txt"}
    assert not [name for name in names if not name.startswith("docs/")]


def test_public_pages_need_no_sign_in(web: httpx2.Client) -> None:
    assert web.get(f"/{PUBLIC}/-/jobs/21").status_code == 200
    assert web.get(f"/{PUBLIC}/-/jobs/21/artifacts/browse").status_code == 200
    assert web.get(f"/{PUBLIC}/-/jobs/21/artifacts/file/index.txt").status_code == 200


def test_the_apis_web_urls_are_these_pages(site: ServerProcess, alice: httpx2.Client) -> None:
    api = httpx2.get(
        f"{site.base_url}/api/v4/projects/{PRIVATE.replace('/', '%2F')}/jobs/7",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
    )

    web_url = api.json()["web_url"]
    pipeline_url = api.json()["pipeline"]["web_url"]
    assert web_url == f"{site.base_url}{JOB}"
    assert alice.get(web_url).status_code == 200
    assert pipeline_url == f"{site.base_url}/{PRIVATE}/-/pipelines/6"
    assert alice.get(pipeline_url).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/{PRIVATE}/-/nope",
        f"{JOB}/nope",
        f"{ARTIFACTS}/browse/nope",
        f"{ARTIFACTS}/file/nope.txt",
        f"{ARTIFACTS}/file/docs",  # a folder is not a file
        f"/{PRIVATE}/-/jobs/999999",
        f"/{PRIVATE}/-/pipelines/999999",
        f"/{PRIVATE}/-/jobs/99999999999999999999",
        "/group/sub/nope/-/jobs/7",
    ],
)
def test_unknown_pages_are_a_404_page(alice: httpx2.Client, path: str) -> None:
    response = alice.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "404" in response.text


@pytest.mark.parametrize(
    "path",
    [
        f"{ARTIFACTS}/file/../README.md",
        f"{ARTIFACTS}/file/docs/%2e%2e/README.md",
        f"{ARTIFACTS}/file/a%00b",
        f"{ARTIFACTS}/browse/docs//deep",
        f"{ARTIFACTS}/file/" + "a" * 5000,
        "/group/%00/app/-/jobs/7",
        "/group/../app/-/jobs/7",
        "/" + "g/" * 5000 + "-/jobs/7",
        f"{ARTIFACTS}/raw/%ff%fe",
    ],
)
def test_hostile_paths_are_refused_with_a_4xx(alice: httpx2.Client, path: str) -> None:
    response = alice.get(path)

    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
