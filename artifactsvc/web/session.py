"""The web session: a signed cookie naming a personal access token by its digest, and the
CSRF token tied to it. No HTTP here beyond the cookie's value.

The cookie holds `{"d": <SHA-256 of the token>, "s": <random session id>}`, signed and
timestamped by itsdangerous with SESSION_SECRET. The token itself is never stored: the digest
is what the database indexes tokens by, so every request resolves it through the same
AuthService check as the API (auth.py `token_digest`), and revoking the token ends the
session at once. The digest is readable by whoever holds the cookie, and useless to them
anywhere but in this signed cookie: it is not a credential the API accepts.

The CSRF token is an HMAC of the session id under the same secret: it changes with each
sign-in, cannot be made without the secret, and needs no server-side state.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "_artifactsvc_session"


@dataclass(frozen=True)
class Session:
    digest: str  # the personal access token's SHA-256, as auth.hash_token gives it
    id: str


class Sessions:
    """Issues and reads session cookies; `ttl` seconds (SESSION_TTL) until one expires."""

    def __init__(self, secret: str, ttl: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="artifactsvc.session")
        self._csrf_key = hashlib.sha256(b"artifactsvc.csrf\0" + secret.encode()).digest()
        self.ttl = ttl

    def issue(self, digest: str) -> str:
        return self._serializer.dumps({"d": digest, "s": secrets.token_urlsafe(16)})

    def read(self, value: str | None) -> Session | None:
        """The session a cookie value names, or None: absent, forged, or older than `ttl`."""
        if not value or len(value) > 4096:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.ttl)
        except BadSignature:  # SignatureExpired is one
            return None
        if not isinstance(data, dict):
            return None
        digest, session_id = data.get("d"), data.get("s")
        if not isinstance(digest, str) or not isinstance(session_id, str):
            return None
        return Session(digest, session_id)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.id.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), token)
