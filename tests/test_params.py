"""Query and path parameters at the edge (CONTRACT sections 6 and 10, GitLab's Grape
validation): pure functions that reject with GitLab's `{"error": "<field> <message>"}` shape
(BadRequest with `field`), or 404 for an id no row can have."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from artifactsvc.api.errors import BadRequest
from artifactsvc.api.params import (
    MAX_ID,
    boolean,
    path_id,
    positive_int,
    ruby_to_i,
    scopes,
    strict_text,
)
from artifactsvc.errors import JobNotFound, NotFound, PipelineNotFound


@pytest.mark.parametrize(
    ("query", "default", "expected"),
    [
        pytest.param("flag=true", False, True, id="true"),
        pytest.param("flag=True", False, True, id="True"),
        pytest.param("flag=TRUE", False, True, id="TRUE"),
        pytest.param("flag=1", False, True, id="one"),
        pytest.param("flag=t", False, True, id="t"),
        pytest.param("flag=yes", False, True, id="yes"),
        pytest.param("flag=false", True, False, id="false"),
        pytest.param("flag=False", True, False, id="False"),
        pytest.param("flag=FALSE", True, False, id="FALSE"),
        pytest.param("flag=0", True, False, id="zero"),
        pytest.param("flag=f", True, False, id="f"),
        pytest.param("flag=no", True, False, id="no"),
        pytest.param("", False, False, id="absent-default-false"),
        pytest.param("", True, True, id="absent-default-true"),
        pytest.param("flag=", True, True, id="empty-is-the-default"),
        pytest.param("other=true", False, False, id="another-parameter"),
    ],
)
def test_a_boolean_parameter_reads_gitlabs_spellings(
    query: str, default: bool, expected: bool
) -> None:
    assert boolean(QueryParams(query), "flag", default) is expected


@pytest.mark.parametrize("value", ["maybe", "2", "-1", "truthy", "nope", "ture"])
def test_a_boolean_parameter_that_is_neither_is_invalid(value: str) -> None:
    with pytest.raises(BadRequest) as refused:
        boolean(QueryParams({"flag": value}), "flag")

    assert (refused.value.field, str(refused.value)) == ("flag", "is invalid")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("per_page=1", 1, id="one"),
        pytest.param("per_page=20", 20, id="twenty"),
        pytest.param("per_page=1000", 1000, id="no-clamp-here"),
        pytest.param("per_page=007", 7, id="leading-zeros"),
        pytest.param("per_page=%207%20", 7, id="padded"),
        pytest.param("per_page=", 42, id="empty-is-the-default"),
        pytest.param("", 42, id="absent-is-the-default"),
        pytest.param(f"per_page={2**70}", 2**70, id="beyond-64-bits"),
    ],
)
def test_a_positive_integer_parameter_is_read(query: str, expected: int) -> None:
    assert positive_int(QueryParams(query), "per_page", 42) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("0", "does not have a valid value", id="zero"),
        pytest.param("-1", "does not have a valid value", id="negative"),
        pytest.param("-0", "does not have a valid value", id="negative-zero"),
        pytest.param("abc", "is invalid", id="word"),
        pytest.param("1.5", "is invalid", id="decimal"),
        pytest.param("1e3", "is invalid", id="exponent"),
        pytest.param("0x10", "is invalid", id="hex"),
        pytest.param("--5", "is invalid", id="two-signs"),
        pytest.param("5-", "is invalid", id="trailing-sign"),
        pytest.param("١٢", "is invalid", id="non-ascii-digits"),
        pytest.param("1 2", "is invalid", id="inner-space"),
    ],
)
def test_a_positive_integer_parameter_refuses_anything_else(value: str, message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        positive_int(QueryParams({"page": value}), "page", 1)

    assert (refused.value.field, str(refused.value)) == ("page", message)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", (), id="absent-means-all"),
        pytest.param("scope=running", ("running",), id="one-value"),
        pytest.param("scope[]=pending&scope[]=running", ("pending", "running"), id="array"),
        pytest.param("scope=failed&scope=success", ("failed", "success"), id="repeated"),
        pytest.param("scope=manual&scope[]=created", ("manual", "created"), id="both-spellings"),
        pytest.param("scope[]=running&scope=running", ("running",), id="duplicates-once"),
        pytest.param(
            "scope=created&scope=pending&scope=running&scope=failed&scope=success"
            "&scope=canceled&scope=skipped&scope=manual",
            ("created", "pending", "running", "failed", "success", "canceled", "skipped", "manual"),
            id="the-seed-documents-list",
        ),
        *[
            pytest.param(
                f"scope={status}",
                (status,),
                id=f"status-{status}",
            )
            for status in (
                "waiting_for_resource",
                "preparing",
                "waiting_for_callback",
                "canceling",
                "scheduled",
            )
        ],
    ],
)
def test_scope_takes_job_statuses_in_any_spelling(query: str, expected: tuple[str, ...]) -> None:
    assert scopes(QueryParams(query)) == expected


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("scope=bogus", id="unknown"),
        pytest.param("scope[]=success&scope[]=bogus", id="one-unknown-in-an-array"),
        pytest.param("scope=Running", id="case"),
        pytest.param("scope=", id="empty"),
        pytest.param("scope=running,failed", id="comma-list"),
    ],
)
def test_scope_refuses_a_value_that_is_no_job_status(query: str) -> None:
    with pytest.raises(BadRequest) as refused:
        scopes(QueryParams(query))

    assert (refused.value.field, str(refused.value)) == ("scope", "does not have a valid value")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("7", 7, id="number"),
        pytest.param("0", 0, id="zero-is-a-number"),
        pytest.param("007", 7, id="leading-zeros"),
        pytest.param(str(MAX_ID), 2**63 - 1, id="largest-bigint"),
    ],
)
def test_a_path_id_is_a_decimal_number(raw: str, expected: int) -> None:
    assert path_id(raw, kind="job_id") == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="word"),
        pytest.param("-1", id="negative"),
        pytest.param("+1", id="plus-sign"),
        pytest.param("1.0", id="decimal"),
        pytest.param(" 1", id="space"),
        pytest.param("١", id="non-ascii-digit"),
        pytest.param("1e3", id="exponent"),
    ],
)
@pytest.mark.parametrize("kind", ["job_id", "pipeline_id"])
def test_a_path_id_that_is_not_a_number_is_invalid(raw: str, kind: str) -> None:
    with pytest.raises(BadRequest) as refused:
        path_id(raw, kind=kind)

    assert (refused.value.field, str(refused.value)) == (kind, "is invalid")


@pytest.mark.parametrize(
    ("kind", "error"),
    [("job_id", JobNotFound), ("pipeline_id", PipelineNotFound)],
)
@pytest.mark.parametrize("raw", [str(2**63), str(2**64), "9" * 40])
def test_a_path_id_past_bigint_names_no_row(raw: str, kind: str, error: type[NotFound]) -> None:
    with pytest.raises(error):
        path_id(raw, kind=kind)


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        pytest.param(b"job=build", "build", id="plain"),
        pytest.param(b"job=a%20b", "a b", id="percent-space"),
        pytest.param(b"job=a+b", "a b", id="plus-is-space-in-a-query"),
        pytest.param(b"job=a%2Bb", "a+b", id="encoded-plus"),
        pytest.param(b"job=feature%2Fx", "feature/x", id="encoded-slash"),
        pytest.param(b"job=%C3%BC%E4%B8%96", "ü世", id="utf-8"),
        pytest.param(b"job=first&job=last", "last", id="last-of-repeated"),
        pytest.param(b"other=x&job=y", "y", id="among-others"),
        pytest.param(b"other=x", None, id="absent"),
        pytest.param(b"", None, id="no-query"),
    ],
)
def test_a_strict_text_parameter_is_decoded_once(query_string: bytes, expected: str | None) -> None:
    assert strict_text(query_string, "job") == expected


@pytest.mark.parametrize(
    "query_string",
    [
        pytest.param(b"job=%ff", id="invalid-byte"),
        pytest.param(b"job=build%C0%AF", id="overlong-slash"),
        pytest.param(b"job=%ED%A0%80", id="encoded-surrogate"),
        pytest.param(b"job=%E4%B8", id="truncated-sequence"),
        pytest.param(
            b"job=\xff",
            id="raw-invalid-byte",
            marks=pytest.mark.xfail(
                strict=True, reason="params.py reads unescaped bytes as Latin-1 and keeps them"
            ),
        ),
    ],
)
def test_a_strict_text_parameter_that_is_not_utf8_is_invalid(query_string: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        strict_text(query_string, "job")

    assert (refused.value.field, str(refused.value)) == ("job", "is invalid")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("12abc", 12),
        ("abc", 0),
        ("", 0),
        (" 12", 12),
        ("\t\n 7", 7),
        ("+5", 5),
        ("-5", -5),
        ("1_000", 1000),
        ("1__0", 1),
        ("_1", 0),
        ("1_", 1),
        ("0x1A", 0),
        ("12 34", 12),
        ("bytes 5", 0),
        ("\u0661\u0662", 0),  # Arabic-Indic digits: not digits to Ruby
        ("99999999999999999999999", 99999999999999999999999),
    ],
)
def test_ruby_to_i_reads_as_gitlabs_ruby_does(text: str, expected: int) -> None:
    assert ruby_to_i(text) == expected
