"""`artifactsvc import FILE.json` (CONTRACT section 3).

fields.py   typed access to the file's objects; ImportError_ names the first bad field
plan.py     the whole file validated into domain records (an ImportPlan); nothing written
store.py    artifact files stored through the upload path, then every row in one
            transaction; a failure leaves nothing behind
"""

from artifactsvc.importing.fields import ImportError_
from artifactsvc.importing.plan import ImportPlan, PendingArtifact, plan_import
from artifactsvc.importing.store import artifact_bytes, import_with_artifacts

__all__ = [
    "ImportError_",
    "ImportPlan",
    "PendingArtifact",
    "artifact_bytes",
    "import_with_artifacts",
    "plan_import",
]
