"""The pages' settings fail at start-up with one line, as every setting does."""

from __future__ import annotations

import pytest

from artifactsvc.errors import ConfigError
from artifactsvc.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})

    assert (settings.pages_url, settings.session_secret, settings.session_ttl) == (
        None,
        None,
        8 * 3600,
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ARTIFACTSVC_PAGES_URL": "http://127.0.0.1:8080"}, "other than EXTERNAL_URL"),
        ({"ARTIFACTSVC_PAGES_URL": "pages.example"}, r"absolute http\(s\) URL"),
        ({"ARTIFACTSVC_SESSION_SECRET": "short"}, "at least 32 characters"),
        ({"ARTIFACTSVC_SESSION_TTL": "10 sec"}, "from 1 minute to 90 days"),
        ({"ARTIFACTSVC_SESSION_TTL": "never"}, "from 1 minute to 90 days"),
    ],
)
def test_invalid_values_are_refused(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        Settings.from_env(variables)

    assert "short" not in str(raised.value)  # a secret is never echoed


def test_a_separate_pages_origin_and_a_shared_secret_are_taken() -> None:
    settings = Settings.from_env(
        {
            "ARTIFACTSVC_PAGES_URL": "https://pages.example/",
            "ARTIFACTSVC_SESSION_SECRET": "x" * 40,
            "ARTIFACTSVC_SESSION_TTL": "1 hour",
        }
    )

    assert settings.pages_url == "https://pages.example"
    assert settings.session_ttl == 3600
    assert "x" * 40 not in repr(settings)
