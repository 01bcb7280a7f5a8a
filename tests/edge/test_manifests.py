"""k8s/ agrees with how the process shuts down (issue item 9): the kubelet's
SIGKILL must not come before the drain is over."""

from __future__ import annotations

from typing import Any

import yaml

from artifactsvc.settings import Settings
from tests.support.processes import REPO


def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in ("deployment.yaml", "configmap.yaml"):
        for document in yaml.safe_load_all((REPO / "k8s" / path).read_text()):
            found[document["kind"]] = document
    return found


def test_the_grace_period_covers_pre_stop_and_the_shutdown_grace() -> None:
    found = manifests()
    pod = found["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    settings = Settings.from_env({k: str(v) for k, v in found["ConfigMap"]["data"].items()})

    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + settings.shutdown_grace
    assert settings.shutdown_drain <= settings.shutdown_grace
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/readiness"
    assert "--workers" not in container["args"]  # the drain needs one process a pod
