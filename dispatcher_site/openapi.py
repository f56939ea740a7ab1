"""The OpenAPI 3.1 document of every HTTP API the project serves, at GET /openapi.json (issue 14).

1. `dispatcher_site/openapi.yaml` holds the head of the document (info, tags, the shapes every API
   shares) and dispatcher_site's own operations (health, this document);
2. every installed app may keep an `openapi.yaml` beside its views with the `paths` and `components`
   of its API, so an operation is documented next to the view that serves it;
3. the parts are merged once per process; a path or a component defined twice stops the merge.
The test suite validates the merged document as OpenAPI 3.1, checks every response it receives
against it, and fuzzes every operation it lists with Schemathesis (README, "HTTP APIs").
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from django.apps import apps
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

HEAD = Path(__file__).with_name("openapi.yaml")
MERGED_COMPONENTS = ("schemas", "responses", "parameters", "securitySchemes")


class OpenApiMergeError(Exception):
    pass


def app_fragments() -> list[Path]:
    """Each installed app's openapi.yaml, in INSTALLED_APPS order."""
    found = [Path(config.path) / "openapi.yaml" for config in apps.get_app_configs()]
    return [path for path in found if path.exists() and path != HEAD]


def merge(document: dict[str, Any], fragment: dict[str, Any], source: str) -> None:
    """Add the fragment's paths and components to the document; nothing may be defined twice."""
    components = fragment.get("components", {})
    sections = [(document["paths"], fragment.get("paths", {}), "paths")]
    sections += [
        (document["components"].setdefault(name, {}), components.get(name, {}), f"components.{name}")
        for name in MERGED_COMPONENTS
    ]
    for target, additions, where in sections:
        for key, value in additions.items():
            if key in target:
                raise OpenApiMergeError(f"{source}: {where} {key} is defined twice")
            target[key] = value


@functools.cache
def openapi_document() -> dict[str, Any]:
    head = yaml.safe_load(HEAD.read_text())
    document = {**head, "paths": {}, "components": {}}
    merge(document, head, "dispatcher_site/openapi.yaml")
    for path in app_fragments():
        fragment = yaml.safe_load(path.read_text())
        source = f"{path.parent.name}/openapi.yaml"
        unexpected = set(fragment) - {"paths", "components"}
        if unexpected:
            raise OpenApiMergeError(f"{source}: an app adds paths and components only, not {sorted(unexpected)}")
        merge(document, fragment, source)
    return document


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document())
