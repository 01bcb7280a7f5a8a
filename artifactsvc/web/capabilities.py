"""Report capabilities (pure): a signed, short-lived grant to read one folder of one job's
archive, as the user who opened it could.

An HTML report runs its own scripts, so it is never served with the user's session: the link
to it carries this capability in its path instead (`/-/artifact-reports/<capability>/<file>`).
Relative links inside the report (its CSS, scripts, images) resolve under the same prefix and
are served under the same grant. The grant names the user (or nobody, for an anonymous
reader of a public project) so the read is authorized again, with that user's current
rights, on every file; it expires after CAPABILITY_TTL, and reaches no file outside `folder`.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

CAPABILITY_TTL = 3600  # seconds, as GitLab Pages' job-token access to a private report


@dataclass(frozen=True)
class Capability:
    project_id: int
    job_id: int
    folder: str  # "" for the archive's root
    user_id: int | None

    def covers(self, path: str) -> bool:
        return not self.folder or path.startswith(self.folder + "/")


class Capabilities:
    def __init__(self, secret: str, ttl: int = CAPABILITY_TTL) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="artifactsvc.report")
        self._ttl = ttl

    def issue(self, grant: Capability) -> str:
        return self._serializer.dumps(
            {"p": grant.project_id, "j": grant.job_id, "f": grant.folder, "u": grant.user_id}
        )

    def read(self, token: str) -> Capability | None:
        if len(token) > 2048:
            return None
        try:
            data = self._serializer.loads(token, max_age=self._ttl)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        project_id, job_id, folder, user_id = (data.get(k) for k in ("p", "j", "f", "u"))
        if not (isinstance(project_id, int) and isinstance(job_id, int)):
            return None
        if not isinstance(folder, str) or not (user_id is None or isinstance(user_id, int)):
            return None
        return Capability(project_id, job_id, folder, user_id)
