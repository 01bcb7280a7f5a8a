"""GitLab's artifact types, formats, accessibility levels and stored names (pure rules)."""

from __future__ import annotations

import pytest

from artifactsvc.artifact_types import (
    FILE_TYPES,
    accessibility_of,
    check_type_and_format,
    stored_filename,
)
from artifactsvc.errors import (
    ArtifactFormatMismatch,
    UnknownAccessibility,
    UnknownArtifactFormat,
    UnknownArtifactType,
)


def test_each_type_pairs_with_exactly_one_format() -> None:
    for file_type, (_, file_format) in FILE_TYPES.items():
        check_type_and_format(file_type, file_format)
        for other in {"raw", "zip", "gzip"} - {file_format}:
            if file_type != "trace":
                with pytest.raises(ArtifactFormatMismatch):
                    check_type_and_format(file_type, other)


def test_unknown_types_and_formats_are_refused() -> None:
    with pytest.raises(UnknownArtifactType):
        check_type_and_format("apk", "zip")
    with pytest.raises(UnknownArtifactFormat):
        check_type_and_format("archive", "tar.gz")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("build.zip", "build.zip"),
        ("dir/sub/build.zip", "build.zip"),
        ("C:\\ci\\build.zip", "build.zip"),
        ("a b\"c'.zip", "a_b_c_.zip"),
        ("..", "_.."),
        ("", "artifacts.zip"),
        (None, "artifacts.zip"),
        ("dir/", "artifacts.zip"),
    ],
)
def test_the_stored_name_is_the_uploaded_one_as_carrierwave_keeps_it(
    sent: str | None, stored: str
) -> None:
    assert stored_filename(sent, "archive") == stored


def test_a_report_without_a_name_gets_gitlabs_default() -> None:
    assert stored_filename(None, "junit") == "junit.xml.gz"
    assert stored_filename(None, "sast") == "gl-sast-report.json"
    assert stored_filename(None, "lsif") == "lsif.json.zip"
    assert stored_filename(None, "metrics_referee") == "metrics_referee.gz"


@pytest.mark.parametrize(
    ("value", "level"),
    [(None, "public"), ("", "public"), ("all", "public"), ("developer", "private"),
     ("private", "private"), ("maintainer", "maintainer"), ("none", "none")],
)  # fmt: skip
def test_accessibility_takes_gitlabs_levels_and_the_ci_keywords(
    value: str | None, level: str
) -> None:
    assert accessibility_of(value) == level


def test_an_unknown_accessibility_is_refused() -> None:
    with pytest.raises(UnknownAccessibility):
        accessibility_of("Public")
