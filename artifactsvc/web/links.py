"""The web pages' URLs, built in one place (GitLab's own paths, config/routes/project.rb).

Paths are relative to the origin (`/group/project/-/jobs/7`); each part is percent-encoded
once, keeping `/` between a path's segments as GitLab's route helpers do.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

SIGN_IN = "/users/sign_in"
SIGN_OUT = "/users/sign_out"
STYLESHEET = "/assets/artifactsvc/web.css"
REPORTS = "/-/artifact-reports"  # then /<capability>/<path>, on this origin or PAGES_URL's


def _path(text: str) -> str:
    return quote(text, safe="/")


def project(project_path: str) -> str:
    return f"/{_path(project_path)}"


def pipelines(project_path: str) -> str:
    return f"{project(project_path)}/-/pipelines"


def pipeline(project_path: str, pipeline_id: int) -> str:
    return f"{pipelines(project_path)}/{pipeline_id}"


def job(project_path: str, job_id: int) -> str:
    return f"{project(project_path)}/-/jobs/{job_id}"


def job_log(project_path: str, job_id: int) -> str:
    return f"{job(project_path, job_id)}/raw"


def artifacts(project_path: str, job_id: int, action: str, path: str = "") -> str:
    """`.../-/jobs/<id>/artifacts/<action>[/<path>]`: browse, file, raw, download, keep."""
    base = f"{job(project_path, job_id)}/artifacts/{action}"
    return f"{base}/{_path(path)}" if path else base


def browse(project_path: str, job_id: int, folder: str = "", page: int = 1) -> str:
    url = artifacts(project_path, job_id, "browse", folder)
    return f"{url}?page={page}" if page > 1 else url


def folder_zip(project_path: str, job_id: int, folder: str) -> str:
    url = artifacts(project_path, job_id, "download")
    return f"{url}?{urlencode({'path': folder})}" if folder else url


def sign_in(return_to: str | None = None) -> str:
    return f"{SIGN_IN}?{urlencode({'redirect_to': return_to})}" if return_to else SIGN_IN


def report(base: str, capability: str, path: str) -> str:
    """A report file under its capability; `base` is "" (this origin) or PAGES_URL."""
    return f"{base}{REPORTS}/{capability}/{_path(path)}"


def safe_return_path(candidate: str | None) -> str | None:
    """`candidate` if it is a path on this origin (`/x`, never `//host` or `/\\host`, no
    scheme, no control characters), else None: a sign-in never sends anyone elsewhere."""
    if not candidate or not candidate.startswith("/") or len(candidate) > 2048:
        return None
    if candidate.startswith(("//", "/\\")) or "\\" in candidate:
        return None
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in candidate):
        return None
    return candidate
