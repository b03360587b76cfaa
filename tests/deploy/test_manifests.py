"""The Kubernetes manifests: every file is YAML a cluster can read, every resource a
kustomization names exists, the services run hardened, and only the gateway reaches them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
FILES = sorted(K8S.rglob("*.yaml"))
SERVICES = {"designer", "runtime", "notifier", "metrics"}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _resources() -> list[dict[str, Any]]:
    return [doc for path in FILES if path.name != "kustomization.yaml" for doc in _documents(path)]


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(K8S)))
def test_every_manifest_is_yaml_with_a_kind(path: Path) -> None:
    documents = _documents(path)  # a YAML error fails here (a `?` in a flow mapping did)
    assert documents and all("kind" in doc for doc in documents), path


@pytest.mark.parametrize("path", sorted(K8S.rglob("kustomization.yaml")), ids=lambda path: str(path.parent.name))
def test_what_a_kustomization_names_exists(path: Path) -> None:
    [kustomization] = _documents(path)
    for name in kustomization.get("resources", []):
        assert (path.parent / name).exists(), f"{path}: {name}"


def test_the_services_run_as_non_root_with_probes() -> None:
    deployments = [doc for doc in _resources() if doc["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} >= SERVICES | {"gateway"}
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, deployment["metadata"]["name"]
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert "readinessProbe" in container and "livenessProbe" in container


def test_only_the_gateway_and_monitoring_reach_the_services() -> None:
    [policy] = [doc for doc in _resources()
                if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == "services-from-gateway"]
    [selected] = policy["spec"]["podSelector"]["matchExpressions"]
    assert set(selected["values"]) == SERVICES and selected["operator"] == "In"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert sources == [
        {"podSelector": {"matchLabels": {"app": "gateway"}}},
        {"namespaceSelector": {"matchLabels": {"bpm-platform/monitoring": "true"}}},
    ]
