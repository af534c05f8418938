"""The OpenAPI 3.1 document of the API: app/api/openapi.yaml, served as JSON at /api/v1/openapi.json."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from flask import jsonify

from app.api import bp

DOCUMENT = Path(__file__).with_name("openapi.yaml")


@cache
def document() -> dict:
    """Return the OpenAPI document, read from its YAML file once per process (callers must not change it)."""
    with DOCUMENT.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@bp.get("/openapi.json")
def openapi_json():
    """Serve the OpenAPI document."""
    return jsonify(document())
