"""Hold every /api/v1 response the tests receive against the OpenAPI document (app/api/openapi.yaml).

The request is matched to its operation (path template + method) and the answer to a documented
status and content type; a JSON body is validated with jsonschema (Draft 2020-12, `$ref`s resolved
into the document). Anything the document does not describe fails the test that made the request,
so the document cannot drift from the code. A request the app's routing refuses (no such path,
or a method the path does not take) only has to answer the error body.
"""
from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app.api.openapi import document

PREFIX = "/api/v1"
DOC_URI = "urn:yingji:openapi"  # the document's name in the registry that resolves `$ref`s
ERROR_POINTER = "/components/schemas/Error"


class ContractError(AssertionError):
    """A response that the OpenAPI document does not describe."""


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(node: dict) -> dict:
    """Follow an OpenAPI `$ref` (a response or a parameter in components) to what it names."""
    while "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@cache
def _templates() -> list[tuple[re.Pattern, str]]:
    """Return each documented path as a regex, the literal ones first, as OpenAPI matches them."""
    # /complaints/summary must win over /complaints/{tracking_no}.
    out = []
    for template, item in document()["paths"].items():
        params = {p["name"]: p for op in item.values() for p in map(_resolve, op.get("parameters", []))
                  if p.get("in") == "path"}

        def group(match: re.Match) -> str:
            schema = params.get(match[1], {}).get("schema", {})
            # An integer id matches digits only, so /briefings/{briefing_id} never takes "7.pdf".
            return "[0-9]+" if schema.get("type") == "integer" else "[^/]+"

        regex = re.compile(re.sub(r"\{(\w+)\}", group, re.escape(template).replace(r"\{", "{").replace(r"\}", "}")))
        out.append((regex, template))
    out.sort(key=lambda pair: pair[1].count("{"))
    return out


def operation_of(path: str) -> str | None:
    """Return the documented path template that a request path (without /api/v1) falls under."""
    for regex, template in _templates():
        if regex.fullmatch(path):
            return template
    return None


@cache
def _registry() -> Registry:
    return Registry().with_resource(DOC_URI, DRAFT202012.create_resource(document()))


@cache
def _validator(pointer: str) -> Draft202012Validator:
    # Formats are checked too: a time without its UTC offset is not a `date-time`.
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate_body(pointer: str, body: Any, where: str) -> None:
    """Validate a JSON body against the schema at a JSON pointer into the document; raise ContractError."""
    errors = sorted(_validator(pointer).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{where}: the body does not match {pointer}"]
        for e in errors[:10]:
            lines.append(f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}")
        lines.append("  body: " + json.dumps(body, ensure_ascii=False, default=str)[:1500])
        raise ContractError("\n".join(lines))


def _routed(app: Flask, path: str, method: str) -> bool:
    """Tell whether the app has a route for the request (else routing itself answered 404 or 405)."""
    try:
        app.url_map.bind("localhost").match(path, method)
    except (NotFound, MethodNotAllowed):
        return False
    return True


def check(app: Flask, method: str, full_path: str, response) -> None:
    """Raise ContractError unless the document describes this response to an /api/v1 request."""
    if not full_path.startswith(PREFIX + "/") or method in ("HEAD", "OPTIONS"):
        return  # not the API; HEAD and OPTIONS are Flask's own answers, never documented per route
    path, where = full_path[len(PREFIX):], f"{method} {full_path} -> {response.status_code}"
    template = operation_of(path)
    operation = document()["paths"][template].get(method.lower()) if template else None
    if operation is None:
        if not _routed(app, full_path, method) and response.status_code in (404, 405):
            if response.is_json:
                validate_body(ERROR_POINTER, response.get_json(), where)
                return
            raise ContractError(f"{where}: a refused route must still answer the JSON error body")
        raise ContractError(f"{where}: {'method' if template else 'path'} not in the OpenAPI document "
                            f"({template or path})")
    status = str(response.status_code)
    if status not in operation["responses"]:
        raise ContractError(f"{where}: status {status} not documented for {method.lower()} {template} "
                            f"(documented: {', '.join(operation['responses'])})")
    documented = _resolve(operation["responses"][status]).get("content", {})
    mimetype = response.mimetype
    if not documented:
        return  # the document promises a status, no body
    if mimetype not in documented:
        raise ContractError(f"{where}: content type {mimetype!r} not documented (documented: {', '.join(documented)})")
    if mimetype == "application/json":
        ref = operation["responses"][status].get("$ref")
        pointer = (ref.removeprefix("#") if ref else _pointer("paths", template, method.lower(), "responses", status))
        validate_body(pointer + _pointer("content", mimetype, "schema"), response.get_json(), where)


class ContractClient(FlaskClient):
    """Flask's test client, checking every /api/v1 response against the OpenAPI document."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        check(self.application, request.method, request.path, response)
        return response
