"""One OpenAPI document for the whole platform, merged from the gateway's and the services' own.

Each service's `/api/v1` paths that the gateway routes to it are taken with the
components they use. A component name defined differently by two sources is renamed
in each of them to `<source>_<name>` and every reference to it rewritten, so
`designer_Item` and `runtime_Item` stand side by side; identical definitions (FastAPI's
validation error schemas, for one) are kept once under their own name. Every `/api/v1`
operation except the login is marked as needing the bearer token.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from bpm_common.logging import get_logger
from gateway.routes import API_PREFIX, SERVICES, backend_for
from gateway.upstream import Upstream

log = get_logger(__name__)

GATEWAY_SOURCE = "gateway"
SECURITY_SCHEME = "bearerAuth"
PUBLIC_OPERATIONS = frozenset({("post", "/api/v1/auth/token")})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
REF_PREFIX = "#/components/"

Ref = tuple[str, str]  # (components section, name)


class MergedOpenAPI:
    """The merged document, built at the first request and cached.

    A service that could not be reached is asked again at the next request; the document
    is rebuilt once its description arrives.
    """

    def __init__(
        self,
        own: Callable[[], dict[str, Any]],
        upstreams: Callable[[], dict[str, Upstream]],
        *,
        timeout: float,
    ) -> None:
        self._own, self._upstreams, self._timeout = own, upstreams, timeout
        self._docs: dict[str, dict[str, Any]] = {}
        self._merged: bytes | None = None
        self._lock = asyncio.Lock()

    async def document(self) -> bytes:
        if self._merged is not None and len(self._docs) == len(SERVICES):
            return self._merged
        async with self._lock:
            missing = [name for name in SERVICES if name not in self._docs]
            fetched = await asyncio.gather(*(self._fetch(name) for name in missing))
            found = {
                name: doc for name, doc in zip(missing, fetched, strict=True) if doc is not None
            }
            if found or self._merged is None:
                self._docs.update(found)
                unavailable = [name for name in SERVICES if name not in self._docs]
                merged = merge_documents(self._own(), self._docs, unavailable=unavailable)
                self._merged = json.dumps(merged, separators=(",", ":")).encode()
            return self._merged

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        upstream = self._upstreams()[service]
        try:
            response = await upstream.client.get(
                upstream.base_urls[0] + "/openapi.json", timeout=self._timeout
            )
            doc = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("openapi_unavailable", backend=service, error=type(exc).__name__)
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
            log.warning("openapi_unavailable", backend=service, error="no OpenAPI document")
            return None
        return doc


def merge_documents(
    own: dict[str, Any],
    services: dict[str, dict[str, Any]],
    *,
    unavailable: list[str] | None = None,
) -> dict[str, Any]:
    """The gateway's document with the services' `/api/v1` paths and their components merged in."""
    sources: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (GATEWAY_SOURCE, own, dict(own.get("paths", {})))
    ]
    for name in SERVICES:
        if name in services:
            doc = services[name]
            paths = {p: item for p, item in doc.get("paths", {}).items() if backend_for(p) == name}
            sources.append((name, doc, paths))

    used = {name: _used_components(doc, paths) for name, doc, paths in sources}
    renames = _renames(used)

    out_paths: dict[str, Any] = {}
    out_components: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for name, doc, paths in sources:
        mapping = {
            f"{REF_PREFIX}{section}/{old}": f"{REF_PREFIX}{section}/{new}"
            for (source, section, old), new in renames.items()
            if source == name
        }
        for path, item in paths.items():
            if path not in out_paths:
                out_paths[path] = _rewrite(copy.deepcopy(item), mapping)
                _unique_operation_ids(out_paths[path], name, operation_ids)
        for (section, component), definition in used[name].items():
            new_name = renames.get((name, section, component), component)
            out_components.setdefault(section, {}).setdefault(
                new_name, _rewrite(copy.deepcopy(definition), mapping)
            )
        for tag in doc.get("tags", []) or []:
            if isinstance(tag, dict) and "name" in tag:
                tags.setdefault(tag["name"], tag)

    out_components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from `POST /api/v1/auth/token` (or the identity provider).",
        }
    }
    _apply_security(out_paths)

    info = dict(own.get("info", {}))
    if unavailable:
        info["x-unavailable-services"] = list(unavailable)
    merged: dict[str, Any] = {
        "openapi": own.get("openapi", "3.1.0"),
        "info": info,
        "paths": dict(sorted(out_paths.items())),
        "components": {
            section: dict(sorted(items.items())) for section, items in out_components.items()
        },
    }
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _refs(node: Any) -> Iterator[Ref]:
    """Every component a JSON node refers to."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
    elif isinstance(node, str) and node.startswith(REF_PREFIX):
        section, _, name = node[len(REF_PREFIX) :].partition("/")
        if name:
            yield section, name


def _used_components(doc: dict[str, Any], paths: dict[str, Any]) -> dict[Ref, Any]:
    """The components the given paths use, directly or through other components."""
    components = doc.get("components", {}) or {}
    used: dict[Ref, Any] = {}
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        section, name = ref
        if ref in used or section == "securitySchemes":
            continue
        definition = components.get(section, {}).get(name)
        if definition is None:
            continue
        used[ref] = definition
        pending.extend(_refs(definition))
    return used


def _renames(used: dict[str, dict[Ref, Any]]) -> dict[tuple[str, str, str], str]:
    """(source, section, name) -> new name, for every name two sources define differently.

    A name is also renamed when its definitions are equal but refer to a renamed component
    (after rewriting they would differ), until nothing more changes.
    """
    owners: dict[Ref, list[str]] = {}
    for source, components in used.items():
        for ref in components:
            owners.setdefault(ref, []).append(source)
    shared = {ref: sources for ref, sources in owners.items() if len(sources) > 1}
    conflicting: set[Ref] = set()
    changed = True
    while changed:
        changed = False
        for ref, sources in shared.items():
            if ref in conflicting:
                continue
            definitions = [used[s][ref] for s in sources]
            differ = any(d != definitions[0] for d in definitions[1:])
            refers_to_renamed = any(r in conflicting for d in definitions for r in _refs(d))
            if differ or refers_to_renamed:
                conflicting.add(ref)
                changed = True
    taken = set(owners)
    renames: dict[tuple[str, str, str], str] = {}
    for section, name in sorted(conflicting):
        for source in shared[(section, name)]:
            new_name, n = f"{source}_{name}", 2
            while (section, new_name) in taken:
                new_name, n = f"{source}_{name}_{n}", n + 1
            taken.add((section, new_name))
            renames[(source, section, name)] = new_name
    return renames


def _rewrite(node: Any, mapping: dict[str, str]) -> Any:
    """The node with every reference string in `mapping` replaced (in place, returned)."""
    if not mapping:
        return node
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                if value in mapping:
                    node[key] = mapping[value]
            else:
                _rewrite(value, mapping)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, str):
                if value in mapping:
                    node[i] = mapping[value]
            else:
                _rewrite(value, mapping)
    return node


def _unique_operation_ids(item: dict[str, Any], source: str, seen: set[str]) -> None:
    for method, operation in item.items():
        if method in HTTP_METHODS and isinstance(operation, dict) and "operationId" in operation:
            op_id = operation["operationId"]
            if op_id in seen:
                op_id = f"{source}_{op_id}"
                operation["operationId"] = op_id
            seen.add(op_id)


def _apply_security(paths: dict[str, Any]) -> None:
    for path, item in paths.items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            if (method, path) in PUBLIC_OPERATIONS:
                operation["security"] = []
            else:
                operation["security"] = [{SECURITY_SCHEME: []}]
