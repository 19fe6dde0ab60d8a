"""deploy/kubernetes.yaml, checked against the image and the settings (no cluster runs here)."""

import re
from typing import Any

import yaml

from todo_api.config import Settings

from ..support import REPO

SECRET_VARIABLES = {"BETTER_AUTH_SECRET", "NEON_DATABASE_URL"}


def manifests() -> dict[str, dict[str, Any]]:
    documents = list(yaml.safe_load_all((REPO / "deploy" / "kubernetes.yaml").read_text()))
    return {document["kind"]: document for document in documents}


def dockerfile_env() -> dict[str, str]:
    text = (REPO / "Dockerfile").read_text()
    return dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+)", text, flags=re.MULTILINE))


def test_deployment_runs_the_image_on_its_port_with_both_probes() -> None:
    deployment = manifests()["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    assert container["image"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": int(dockerfile_env()["PORT"])}

    liveness, readiness = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
    assert (liveness["path"], readiness["path"]) == ("/health", "/ready")
    assert liveness["port"] in ports
    assert readiness["port"] in ports
    # The drain (SHUTDOWN_TIMEOUT) must finish before Kubernetes gives up and sends SIGKILL.
    assert pod["spec"]["terminationGracePeriodSeconds"] > Settings.model_fields["shutdown_timeout"].default


def test_secrets_come_from_a_secret_and_every_variable_is_a_setting() -> None:
    [container] = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {variable["name"]: variable for variable in container["env"]}
    known = {name.upper() for name in Settings.model_fields}
    assert set(env) <= known, f"not settings: {set(env) - known}"
    assert set(env) >= SECRET_VARIABLES
    for name in SECRET_VARIABLES:
        assert "value" not in env[name], f"{name} is inline"
        assert env[name]["valueFrom"]["secretKeyRef"]["name"]


def test_pod_runs_as_the_images_non_root_user() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    uid = re.search(r"useradd --uid (\d+)", (REPO / "Dockerfile").read_text())
    assert uid is not None
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(uid.group(1))


def test_service_routes_to_the_pods_http_port() -> None:
    kinds = manifests()
    service, pod = kinds["Service"], kinds["Deployment"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    named_ports = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= named_ports


def test_readme_documents_every_environment_variable() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []
