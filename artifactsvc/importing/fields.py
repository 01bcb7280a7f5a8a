"""Typed access to the objects of an import file, naming the field on every error."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, TypeVar

from artifactsvc.models import format_time, parse_time

T = TypeVar("T")


class ImportError_(ValueError):
    """A bad import file; the message starts with the path of the first bad field."""


class Fields:
    """Typed access to one object of the file, naming the field on every error."""

    def __init__(self, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ImportError_(f"{where}: must be an object")
        self.where = where
        self.data: dict[str, Any] = data

    def fail(self, key: str, message: str) -> ImportError_:
        return ImportError_(f"{self.where}.{key}: {message}")

    def get(
        self,
        key: str,
        kind: type[T] | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if bool not in kinds and isinstance(value, bool):
            raise self.fail(key, f"must be {' or '.join(k.__name__ for k in kinds)}")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {' or '.join(k.__name__ for k in kinds)}")
        return value

    def ident(self, key: str = "id", *, required: bool = True) -> Any:
        value = self.get(key, int, required=required)
        if value is not None and not 0 < value < 2**63:
            raise self.fail(key, "must be a positive integer")
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.get(key, str, default, required=required)
        if required and value == "":
            raise self.fail(key, "must not be empty")
        if value is not None and "\x00" in value:
            raise self.fail(key, "must not contain NUL characters")
        return value

    def choice(self, key: str, choices: tuple[Any, ...], default: Any) -> Any:
        value = self.get(key, type(default) if default is not None else str, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(map(str, choices))}")
        return value

    def time(self, key: str) -> datetime | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            parsed = parse_time(value)
            format_time(parsed)  # as it will be stored
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
            raise self.fail(key, "must be an ISO 8601 time") from None
        return parsed

    def seconds(self, key: str) -> int | None:
        value = self.get(key, (int, float))
        if value is not None and not (0 <= value < 2**62 and math.isfinite(value)):
            raise self.fail(key, "must be a number of seconds")
        return int(value) if value is not None else None

    def items(self, key: str) -> list[Any]:
        value = self.get(key, list, [])
        return list(value)


def section(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise ImportError_(f"{key}: must be a list")
    return value
