"""The Kubernetes manifests (k8s/): valid against the Kubernetes schemas, offline and strict
(kubernetes-validate bundles them), both file by file and as the kustomization renders them;
and consistent with the service they run: settings that exist, probes the app answers on the
port it listens on, a termination grace that covers the drain.

No kustomize binary comes from PyPI or Debian's default archive that CI can rely on, so
`render` applies the few kustomize features k8s/kustomization.yaml uses (resources, labels
without selectors, images) and refuses any other key rather than guess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from artifactsvc.settings import PREFIX, SETTINGS, Settings
from tests.support.apps import app_client, app_settings
from tests.support.processes import REPO

K8S = REPO / "k8s"
KUBERNETES_VERSION = "1.30.0"
RENDERED_KEYS = {"apiVersion", "kind", "resources", "labels", "images"}
# Not ours but read by boto3 (region, credentials) in every container.
PASSTHROUGH = {"AWS_DEFAULT_REGION", "AWS_REGION"}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_specs(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = resource.get("spec", {})
    if resource["kind"] in ("Deployment", "Job"):
        yield spec["template"]["spec"]
    elif resource["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]


def render(directory: Path) -> list[dict[str, Any]]:
    """`kustomize build DIRECTORY`, for the features the kustomization uses."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - RENDERED_KEYS
    assert not unknown, f"render() does not apply {sorted(unknown)}: teach it or drop them"
    resources = [doc for name in kustomization["resources"] for doc in documents(directory / name)]
    for entry in kustomization.get("labels", []):
        assert not entry.get("includeSelectors") and not entry.get("includeTemplates")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])
    for image in kustomization.get("images", []):
        for resource in resources:
            for pod in pod_specs(resource):
                for container in pod["containers"]:
                    name, _, _ = container["image"].partition(":")
                    if name == image["name"]:
                        container["image"] = f"{image['newName']}:{image['newTag']}"
    return resources


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render(K8S)


def by_kind(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_every_manifest_is_valid_kubernetes_strictly(path: Path) -> None:
    for doc in documents(path):
        if doc["kind"] == "Kustomization":
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_renders_valid_kubernetes(
    rendered: list[dict[str, Any]],
) -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    for resource in rendered:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        assert resource["metadata"]["labels"]["app.kubernetes.io/part-of"] == "artifactsvc"
    kinds = {r["kind"] for r in rendered}
    assert kinds >= {
        "Deployment", "Service", "ConfigMap", "Job", "CronJob",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
    }  # fmt: skip


def test_configmap_sets_only_settings_the_service_reads(rendered: list[dict[str, Any]]) -> None:
    (config,) = by_kind(rendered, "ConfigMap")
    known = {setting.variable for setting in SETTINGS}
    ours = {name for name in config["data"] if name.startswith(PREFIX)}
    assert ours and ours <= known, ours - known
    assert set(config["data"]) - ours <= PASSTHROUGH
    # And their values parse: a typo would stop every pod at start-up.
    Settings.from_env({k: v for k, v in config["data"].items() if k in ours})


def test_every_container_runs_a_real_command_as_non_root_read_only(
    rendered: list[dict[str, Any]],
) -> None:
    commands = set()
    for resource in rendered:
        for pod in pod_specs(resource):
            assert pod["securityContext"]["runAsNonRoot"] is True
            mounts = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
            for container in pod["containers"]:
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                assert {"/tmp"} <= {
                    m["mountPath"] for m in container["volumeMounts"] if m["name"] in mounts
                }
                assert container["resources"]["requests"] and container["resources"]["limits"]
                env = {e["name"]: e for e in container.get("env", [])}
                assert "secretKeyRef" in env["ARTIFACTSVC_DATABASE_URL"]["valueFrom"]
                assert {"secretRef": {"name": "artifactsvc-s3"}} in container["envFrom"]
                if container["args"][0] == "serve":
                    # Replicas must share the key that signs web sessions (docs/web.md).
                    secret = env["ARTIFACTSVC_SESSION_SECRET"]["valueFrom"]["secretKeyRef"]
                    assert secret == {"name": "artifactsvc-session", "key": "secret"}
                commands.add(container["args"][0])
    assert commands == {"serve", "migrate", "expire", "gc"}
    subcommands = (REPO / "artifactsvc" / "cli.py").read_text()
    for command in commands - {"serve"}:
        assert f"async def {command}(" in subcommands


def test_probes_hit_paths_the_app_answers_on_the_port_it_listens(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    (deployment,) = by_kind(rendered, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    args = container["args"]
    assert int(args[args.index("--port") + 1]) == port["containerPort"]
    probes = [container[p]["httpGet"] for p in ("readinessProbe", "livenessProbe")]
    assert {probe["port"] for probe in probes} == {port["name"]}
    (service,) = by_kind(rendered, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    paths = {probe["path"] for probe in probes}
    assert paths == {"/-/readiness", "/-/liveness"}
    settings = app_settings(f"sqlite:///{tmp_path}/meta.db", tmp_path / "objects")
    with app_client(settings) as client:
        for path in paths:
            assert client.get(path).status_code == 200, path


def test_termination_grace_covers_prestop_and_the_shutdown_grace(
    rendered: list[dict[str, Any]],
) -> None:
    (config,) = by_kind(rendered, "ConfigMap")
    settings = Settings.from_env({k: v for k, v in config["data"].items() if k.startswith(PREFIX)})
    (deployment,) = by_kind(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert settings.shutdown_drain <= settings.shutdown_grace
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + settings.shutdown_grace + 5
    assert pod["topologySpreadConstraints"]


def test_disruption_budget_and_autoscaler_keep_a_replica_serving(
    rendered: list[dict[str, Any]],
) -> None:
    (deployment,) = by_kind(rendered, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    (budget,) = by_kind(rendered, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"] == selector
    (scaler,) = by_kind(rendered, "HorizontalPodAutoscaler")
    assert scaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert scaler["spec"]["minReplicas"] > budget["spec"]["minAvailable"]
    (service,) = by_kind(rendered, "Service")
    assert service["spec"]["selector"] == selector
