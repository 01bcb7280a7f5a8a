"""Every artifact type GitLab knows, the one format each is stored in, and its default name.

From GitLab's `Enums::Ci::JobArtifact` (app/models/concerns/enums/ci/job_artifact.rb):
`type_and_format_pairs` is INTERNAL_TYPES merged with REPORT_TYPES, and
`Ci::JobArtifact#validate_file_format!` refuses any other pairing, except for `trace`,
which is exempt (`validate :validate_file_format!, unless: :trace?`). The formats are
`Ci::JobArtifact.file_formats` (raw, zip, gzip). Default names are DEFAULT_FILE_NAMES with
the extension of the format (GitLab names the archive, metadata and trace itself). Pure data
and functions: no I/O.
"""

from __future__ import annotations

import re

from artifactsvc.errors import (
    ArtifactFormatMismatch,
    UnknownAccessibility,
    UnknownArtifactFormat,
    UnknownArtifactType,
)

FORMATS = ("raw", "zip", "gzip")
DEFAULT_FORMAT = "zip"  # GitLab's `artifact_format` default, whatever the type

# type -> (GitLab's default file name, or None; format)
_PAIRS: dict[str, tuple[str | None, str]] = {
    # INTERNAL_TYPES
    "archive": (None, "zip"),
    "metadata": (None, "gzip"),
    "trace": (None, "raw"),
    # REPORT_TYPES, gzip and zip
    "junit": ("junit.xml", "gzip"),
    "metrics": ("metrics.txt", "gzip"),
    "metrics_referee": (None, "gzip"),
    "network_referee": (None, "gzip"),
    "dotenv": (".env", "gzip"),
    "cobertura": ("cobertura-coverage.xml", "gzip"),
    "jacoco": ("jacoco-coverage.xml", "gzip"),
    "cluster_applications": ("gl-cluster-applications.json", "gzip"),
    "lsif": ("lsif.json", "zip"),
    "scip": ("index.scip", "zip"),
    "cyclonedx": ("gl-sbom.cdx.json", "gzip"),
    "annotations": ("gl-annotations.json", "gzip"),
    "repository_xray": ("gl-repository-xray.json", "gzip"),
    # REPORT_TYPES, raw: security reports, and what the frontend once fetched itself
    "sast": ("gl-sast-report.json", "raw"),
    "secret_detection": ("gl-secret-detection-report.json", "raw"),
    "dependency_scanning": ("gl-dependency-scanning-report.json", "raw"),
    "container_scanning": ("gl-container-scanning-report.json", "raw"),
    "cluster_image_scanning": ("gl-cluster-image-scanning-report.json", "raw"),
    "dast": ("gl-dast-report.json", "raw"),
    "license_scanning": ("gl-license-scanning-report.json", "raw"),
    "accessibility": ("gl-accessibility.json", "raw"),
    "codequality": ("gl-code-quality-report.json", "raw"),
    "performance": ("performance.json", "raw"),
    "browser_performance": ("browser-performance.json", "raw"),
    "load_performance": ("load-performance.json", "raw"),
    "terraform": ("tfplan.json", "raw"),
    "requirements": ("requirements.json", "raw"),
    "requirements_v2": ("requirements_v2.json", "raw"),
    "coverage_fuzzing": ("gl-coverage-fuzzing.json", "raw"),
    "api_fuzzing": ("gl-api-fuzzing-report.json", "raw"),
    "sarif": ("gl-sarif-report.sarif", "raw"),
}
_EXTENSIONS = {"zip": ".zip", "gzip": ".gz", "raw": ""}
_SPECIAL_NAMES = {"archive": "artifacts.zip", "metadata": "metadata.gz", "trace": "job.log"}


def _default_name(file_type: str, name: str | None, file_format: str) -> str:
    if file_type in _SPECIAL_NAMES:
        return _SPECIAL_NAMES[file_type]
    base = name or file_type
    extension = _EXTENSIONS[file_format]
    return base if base.endswith(extension) else base + extension


# type -> (default file name, format); the shape the rest of the service reads.
FILE_TYPES: dict[str, tuple[str, str]] = {
    file_type: (_default_name(file_type, name, file_format), file_format)
    for file_type, (name, file_format) in _PAIRS.items()
}


def check_type_and_format(file_type: str, file_format: str) -> None:
    """Refuses a type GitLab does not know, a format it does not know, and a pairing
    `validate_file_format!` refuses."""
    if file_type not in FILE_TYPES:
        raise UnknownArtifactType()
    if file_format not in FORMATS:
        raise UnknownArtifactFormat()
    if file_type != "trace" and file_format != FILE_TYPES[file_type][1]:
        raise ArtifactFormatMismatch()


_UNSAFE = re.compile(r"[^\w.\-+]")  # CarrierWave::SanitizedFile's sanitize_regexp


def stored_filename(sent: str | None, file_type: str) -> str:
    """The name an upload keeps (`artifacts:name`): the multipart file name as CarrierWave
    stores it (the base name, with characters outside `[\\w.+-]` as `_`, a name of only dots
    prefixed with `_`), or the type's default when none was sent."""
    if sent:
        name = sent.replace("\\", "/").rsplit("/", 1)[-1]
        name = _UNSAFE.sub("_", name)
        if name and not name.strip("."):
            name = f"_{name}"
        if name:
            return name
    return FILE_TYPES[file_type][0]


# Ci::JobArtifact's `accessibility` enum, and the `artifacts:access` keywords GitLab maps onto
# it (Ci::Build#artifact_access_setting_in_config): all -> public, developer -> private.
ACCESSIBILITIES = ("public", "private", "maintainer", "none")
_ACCESS_KEYWORDS = {"all": "public", "developer": "private"}
DEFAULT_ACCESSIBILITY = "public"  # GitLab's default when the job's config names none


def accessibility_of(value: str | None) -> str:
    """The accessibility an upload asks for (`accessibility=private`, or the CI keyword
    `developer`); the default when absent; UnknownAccessibility otherwise."""
    if not value:
        return DEFAULT_ACCESSIBILITY
    level = _ACCESS_KEYWORDS.get(value, value)
    if level not in ACCESSIBILITIES:
        raise UnknownAccessibility()
    return level
