"""The OpenAPI document (app/api/openapi.yaml): valid OpenAPI 3.1, served as loaded, covering every route."""
from __future__ import annotations

import copy
import re

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from app.api.openapi import DOCUMENT, document


def _openapi_path(rule: str) -> str:
    path = rule[len("/api/v1"):]
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", path)


def test_the_document_is_valid_openapi_3_1():
    validate(document())


@pytest.mark.parametrize("breakage", ["bad type", "dangling $ref", "path parameter missing"])
def test_the_validator_refuses_a_broken_document(breakage):
    # The check above must be able to fail: each of these is a mistake a hand edit of the YAML could make.
    doc = copy.deepcopy(document())
    if breakage == "bad type":
        doc["components"]["schemas"]["Deadline"]["properties"]["id"]["type"] = "integr"
    elif breakage == "dangling $ref":
        doc["paths"]["/plan"]["get"]["responses"]["400"] = {"$ref": "#/components/responses/NoSuchResponse"}
    else:
        doc["paths"]["/incidents/{incident_id}"]["get"]["parameters"] = []
    with pytest.raises((OpenAPIValidationError, Unresolvable)):
        validate(doc)


def test_the_served_json_is_the_yaml_file(app):
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.is_json
    with DOCUMENT.open(encoding="utf-8") as f:
        assert r.get_json() == yaml.safe_load(f)


def test_openapi_document_is_openapi_3_1(app):
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.is_json
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())
    assert doc["components"]["schemas"]["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    error = doc["components"]["schemas"]["ErrorDetail"]
    assert {"code", "message", "message_en", "field"} <= set(error["properties"])
    assert {"code", "message", "message_en"} <= set(error["required"])

    # Every $ref stays inside the document (the validator above resolves them).
    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(doc):
        kind, name = re.fullmatch(r"#/components/(\w+)/(\w+)", ref).groups()
        assert name in doc["components"][kind], ref

    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        for method, op in item.items():
            assert method in {"get", "post", "put", "patch", "delete"}, (path, method)
            assert op.get("responses"), (path, method)
            params = [doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
                      for p in op.get("parameters", [])]
            names = {p["name"] for p in params if p.get("in") == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), (path, method, names)


def test_openapi_lists_every_route_of_the_app(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((_openapi_path(rule.rule), method.lower()))
    assert served, "no /api/v1 routes found"
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented routes the app does not serve"
