"""Turn a CustomResourceDefinition's openAPIV3Schema into the JSON Schema the manifest tests check against.

Usage: python deploy/k8s/schemas/crd_to_jsonschema.py CRD.yaml VERSION SOURCE > NAME.json
1. Take the schema of the CRD's served version VERSION (e.g. v1alpha1).
2. Close every object that lists its properties and allows nothing else (additionalProperties: false),
   as the API server's structural pruning would silently drop an unknown field: a misspelt field
   (`maxReplicas` for `maxReplicaCount`) then fails the check instead of vanishing in the cluster.
   Objects marked x-kubernetes-preserve-unknown-fields, or with additionalProperties, stay open.
3. Record where it came from in `$comment`.
"""

import json
import sys
from pathlib import Path

import yaml


def closed(schema):
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def main(path, version, source):
    crd = yaml.safe_load(Path(path).read_text())
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = closed(served["schema"]["openAPIV3Schema"])
    # apiVersion, kind and metadata are checked by the API server, not the CRD: keep them open.
    schema["properties"]["metadata"] = {"type": "object"}
    document = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": f"{source}, {crd['spec']['names']['kind']} {version}; objects closed by crd_to_jsonschema.py",
        **schema,
    }
    json.dump(document, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
