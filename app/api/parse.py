"""Reading JSON request bodies, with errors in Chinese and English."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from incidents.kernel.errors import InvalidInput

FIRST_YEAR, LAST_YEAR = 2000, 2099


def body() -> dict[str, Any]:
    """Return the request's JSON object, or refuse the request clearly."""
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidInput("bad_json", "请求体须为 JSON 对象(Content-Type: application/json)",
                           "the request body must be a JSON object (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise InvalidInput("bad_json", "请求体须为 JSON 对象", "the request body must be a JSON object")
    return data


def required(data: dict, name: str, label: str) -> Any:
    """Return a field that must be present and not empty."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput("missing_field", f"缺少{label}", f"{name} is required", field=name)
    return value


def text(data: dict, name: str, label: str, *, required_: bool = False) -> str | None:
    """Return a text field, refusing numbers, lists and other non-text values."""
    value = required(data, name, label) if required_ else data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("bad_type", f"{label}须为文本", f"{name} must be a string", field=name)
    return value


def timestamp(data: dict, name: str, label: str, *, required_: bool = False) -> datetime | None:
    """Return an ISO 8601 time that carries its UTC offset."""
    value = required(data, name, label) if required_ else data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("bad_time", f"{label}须为带时区的时间，如 2026-11-22T09:30:00+08:00",
                           f"{name} must be an ISO 8601 time such as 2026-11-22T09:30:00+08:00",
                           field=name) from None
    if moment.tzinfo is None:
        raise InvalidInput("naive_time", f"{label}须带时区，如 +08:00",
                           f"{name} must carry a UTC offset such as +08:00", field=name)
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        # Far outside anything the system records (and year 9999 overflows in UTC); the domain checks
        # the plan's own window (not before the plan's year, not in the future) after this.
        raise InvalidInput("time_out_of_range", f"{label}的年份须在{FIRST_YEAR}年至{LAST_YEAR}年之间",
                           f"{name} must be between {FIRST_YEAR} and {LAST_YEAR}", field=name)
    return moment


MAX_ID = 2**31 - 1  # ids are PostgreSQL integers: a larger one names nothing (and would overflow)


def id_value(value: Any, name: str, label: str) -> int | None:
    """Return an id from JSON (a whole number 1..2^31-1), None when absent; refuse anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidInput("bad_id", f"{label}须为编号（正整数）", f"{name} must be an id (a positive integer)",
                           field=name)
    return value


def arg_id(args, name: str, label: str) -> int | None:
    """Return an id from the query string, None when absent; refuse what is not one."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:12]) <= MAX_ID or len(raw) > 10:
        raise InvalidInput("bad_id", f"{label}须为编号（正整数）", f"{name} must be an id (a positive integer)",
                           field=name)
    return int(raw)


def arg_count(args, name: str, label: str, *, default: int, most: int) -> int:
    """Return a whole number 1..most from the query string (default when absent); refuse anything else."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not 1 <= int(raw) <= most:
        raise InvalidInput(f"bad_{name}", f"{label}须为1至{most}的整数", f"{name} must be a whole number 1..{most}",
                           field=name)
    return int(raw)
