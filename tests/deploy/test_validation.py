"""Every overlay renders, and every object it renders is valid: Kubernetes' own schemas for core objects
(kubernetes-validate, strict: unknown fields fail), KEDA's for ScaledObjects and TriggerAuthentications
(check-jsonschema against the schemas kept in deploy/k8s/schemas, made from KEDA 2.15's CRDs)."""

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy.manifests import DEPLOY, OVERLAYS, rendered

# The oldest Kubernetes the manifests are meant for (AKS's oldest supported minor), and the newest known.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
KEDA_SCHEMAS = {
    "ScaledObject": DEPLOY / "schemas" / "keda.sh_scaledobject_v1alpha1.json",
    "TriggerAuthentication": DEPLOY / "schemas" / "keda.sh_triggerauthentication_v1alpha1.json",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_the_same_kinds_of_object(overlay):
    kinds = sorted({document["kind"] for document in rendered(overlay)})

    assert kinds == [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "TriggerAuthentication",
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_are_valid_for_kubernetes(overlay, version):
    errors = []
    for document in rendered(overlay):
        if document["kind"] in KEDA_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{document['kind']} {document['metadata']['name']}: {error.message} at {list(error.path)}")
    assert errors == []


def check_jsonschema(schema: Path, documents: list[dict], directory: Path) -> subprocess.CompletedProcess:
    files = []
    for number, document in enumerate(documents):
        files.append(directory / f"{number}-{document['metadata']['name']}.json")
        files[-1].write_text(json.dumps(document))
    command = [str(Path(sys.executable).parent / "check-jsonschema"), "--schemafile", str(schema), *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", KEDA_SCHEMAS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_objects_are_valid_for_keda(overlay, kind, tmp_path):
    documents = [document for document in rendered(overlay) if document["kind"] == kind]

    result = check_jsonschema(KEDA_SCHEMAS[kind], documents, tmp_path)

    assert documents
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_keda_schema_refuses_a_misspelt_field(tmp_path):
    [scaled_object, *_] = [d for d in rendered("prod") if d["kind"] == "ScaledObject"]
    misspelt = {**scaled_object, "spec": {**scaled_object["spec"], "maxReplicas": 3}}
    numeric = {
        **scaled_object,
        "spec": {**scaled_object["spec"], "triggers": [{"type": "azure-queue", "metadata": {"queueLength": 5}}]},
    }

    for document in (misspelt, numeric):
        result = check_jsonschema(KEDA_SCHEMAS["ScaledObject"], [document], tmp_path)
        assert result.returncode == 1, result.stdout
