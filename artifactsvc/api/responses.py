"""JSON responses encoded by orjson: the bytes Starlette's `JSONResponse` sends (compact,
UTF-8, no ASCII escaping), at a fraction of the cost on lists of jobs."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        # No NaN or infinity in GitLab's JSON: orjson writes them as null where the standard
        # library (allow_nan=False) would refuse; no value here is ever one.
        return orjson.dumps(content)
