"""Streaming multipart/form-data for uploads, on python-multipart's push parser.

The file part's bytes are handed on as they arrive, never spooled or held whole. Everything
else in the body is bounded (`FormLimits`): the bytes outside the file part (fields, part
headers, boundaries, preamble and epilogue alike) and the number of parts, every part counted
(a repeated name cannot reuse a slot). A malformed body, an oversized part header among
them (python-multipart's own per-line and per-part limits), is a 400, never a 500.

Fields may come before or after the file: `until_file()` reads the fields before it (all the
caller may look at before it authenticates), and `file_chunks()` yields the file, then reads
the rest of the body, so once it is exhausted every field is known.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from artifactsvc.api.errors import BadRequest


@dataclass(frozen=True)
class FormLimits:
    """`max_bytes`: the body's bytes outside the file's content; `max_parts`: the parts, the
    file included."""

    max_bytes: int
    max_parts: int


class StreamingForm:
    def __init__(self, request: Request, limits: FormLimits, *, file_field: str = "file") -> None:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise BadRequest("is missing", field="file")
        self._limits = limits
        self._file_field = file_field
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self._body = request.stream()
        self._pending: list[bytes] = []
        self._state = "before"  # before -> in_file -> after
        self._fed = 0  # every byte of the body so far
        self._file_bytes = 0  # of which the file's content
        self._parts = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part_name: str | None = None
        self._part_is_file = False
        self._value = bytearray()
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                },
            )
        except FormParserError as error:  # a boundary over python-multipart's 256 bytes
            raise BadRequest(f"malformed multipart body: {error}") from None

    # -- parser callbacks --------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > self._limits.max_parts:
            raise BadRequest("too many form fields")
        self._headers = {}
        self._value = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._part_name = name
        self._part_is_file = name == self._file_field and self._state == "before"
        if self._part_is_file:
            self._state = "in_file"
            raw_filename = options.get(b"filename")
            self.filename = raw_filename.decode("utf-8", "replace") if raw_filename else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part_is_file:
            self._file_bytes += end - start
            self._pending.append(bytes(data[start:end]))
            return
        self._value += data[start:end]
        if len(self._value) > self._limits.max_bytes:
            raise BadRequest("is too long", field=self._part_name or "field")

    def _part_end(self) -> None:
        if self._part_is_file:
            self._state = "after"
            self._part_is_file = False
        elif self._part_name is not None:
            self.fields[self._part_name] = self._value.decode("utf-8", "replace")

    # -- driving -----------------------------------------------------------------------------

    async def _feed_next(self) -> bool:
        try:
            chunk = await self._body.__anext__()
        except StopAsyncIteration:
            self._parse(None)
            return False
        if chunk:
            self._fed += len(chunk)
            self._parse(chunk)
            # Checked after each chunk: what is not the file's content is bounded as a whole,
            # so neither many small fields nor a long preamble or epilogue can grow without end.
            if self._fed - self._file_bytes > self._limits.max_bytes:
                raise BadRequest("form fields too large")
        return True

    def _parse(self, chunk: bytes | None) -> None:
        try:
            if chunk is None:
                self._parser.finalize()
            else:
                self._parser.write(chunk)
        except FormParserError as error:
            # python-multipart's refusals (a part header over its line or count limit, bytes
            # where a boundary belongs): the client's fault, said as such.
            raise BadRequest(f"malformed multipart body: {error}") from None

    async def until_file(self) -> bool:
        """Reads up to the file part's first bytes; False when the body has no file part."""
        while self._state == "before":
            if not await self._feed_next():
                return False
        return True

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; afterwards the rest of the body is read too."""
        if not await self.until_file():
            raise BadRequest("is missing", field="file")
        while True:
            while self._pending:
                yield self._pending.pop(0)
            if self._state != "in_file":
                break
            if not await self._feed_next():
                raise BadRequest("multipart body ended inside the file")
        while await self._feed_next():
            pass
