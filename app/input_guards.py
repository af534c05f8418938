"""What no request may carry, refused before any route reads it: ids past the database's integers,
JSON nested past the parser's depth, and NUL bytes (PostgreSQL text cannot hold them)."""
from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from incidents.kernel.errors import InvalidInput

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class BoundedInt(IntegerConverter):
    """`<int:...>` in every route: at most 2^31-1, PostgreSQL's integer; a larger id matches no route (404)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


MAX_INT = 2**31 - 1


def bounded_int(text: str) -> int:
    """`type=` for request.args.get: a whole number within PostgreSQL's integer, else ValueError (the default)."""
    text = text.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 11 or abs(int(text)) > MAX_INT:
        raise ValueError(text[:20])
    return int(text)


def _nul() -> InvalidInput:
    return InvalidInput("nul_byte", "请求中含有不允许的控制字符（NUL），请删除后重试", "the request contains a NUL byte")


def _has_nul(value: Any) -> bool:
    # A loop, not recursion: the parser accepts nesting deeper than Python's call stack allows.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class GuardedJSON(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested too deep for the parser and strings with NUL bytes."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise InvalidInput("too_deep", "请求体嵌套层数过多", "the JSON body is nested too deeply") from None
        if _has_nul(value):
            raise _nul()
        return value


def init_app(app: Flask) -> None:
    """Install the guards: before the blueprints (the int converter applies to routes added after it)."""
    app.url_map.converters["int"] = BoundedInt
    app.json = GuardedJSON(app)
    app.json.ensure_ascii = False

    @app.before_request
    def _no_nul_bytes() -> None:
        if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
            raise _nul()
        # The public 12315 form cleans control characters itself and keeps everything else the citizen typed.
        if (request.method == "POST" and request.mimetype in FORMS and request.blueprint != "intake"
                and _has_nul(request.form.to_dict(flat=False))):
            raise _nul()
