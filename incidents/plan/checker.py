"""Reading the plan's YAML with line numbers, and the checker every section reports its problems to."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterable

import yaml

from incidents.kernel.durations import parse_duration
from incidents.plan.model import CODE, PlanIssue


# --- reading YAML with line numbers -----------------------------------------


class Located:
    """Plain Python values built from YAML nodes, with the line of each path."""

    def __init__(self) -> None:
        self.lines: dict[tuple, int] = {}
        self.issues: list[PlanIssue] = []

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    self.issues.append(
                        PlanIssue(key_node.start_mark.line + 1, dotted(path + (key,)), "duplicate key")
                    )
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return _scalar(node)

    def line(self, path: tuple) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 0)


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag.rsplit(":", 1)[-1]
    value = node.value
    if tag == "int":
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return value  # YAML 1.1 reads 10:30 as a base-60 number; the checks then see the text
    if tag == "float":
        return float(value)
    if tag == "bool":
        return value.lower() in ("true", "yes", "on")
    if tag == "null":
        return None
    return value


def dotted(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


class Checker:
    """Collects every problem of a plan, each with its line."""

    def __init__(self, located: Located) -> None:
        self.loc = located

    def fail(self, path: tuple, message: str) -> None:
        self.loc.issues.append(PlanIssue(self.loc.line(path), dotted(path), message))

    def mapping(self, value: Any, path: tuple) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return {}
        return value

    def sequence(self, value: Any, path: tuple, *, allow_empty: bool = False) -> list:
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        if not value and not allow_empty:
            self.fail(path, "must not be empty")
        return value

    def text(self, parent: dict, key: str, path: tuple, *, required: bool = True) -> str:
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(path, f"missing `{key}`")
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            self.fail(path + (key,), "must be a non-empty text")
            return ""
        return str(value)

    def code(self, parent: dict, key: str, path: tuple) -> str:
        value = self.text(parent, key, path)
        if value and not CODE.match(value):
            self.fail(path + (key,), f"`{value}` is not a code (lower-case letters, digits, _)")
        return value

    def duration(self, value: Any, path: tuple) -> timedelta | None:
        if not isinstance(value, str):
            self.fail(path, "must be an ISO 8601 duration such as PT1H or P3D")
            return None
        try:
            return parse_duration(value)
        except ValueError:
            self.fail(path, f"`{value}` is not an ISO 8601 duration such as PT1H or P3D")
            return None

    def choice(self, value: Any, allowed: Iterable[str], path: tuple) -> str:
        allowed = tuple(allowed)
        if value not in allowed:
            self.fail(path, f"`{value}` is not one of: {', '.join(allowed)}")
            return ""
        return value

    def unknown_keys(self, mapping: dict, known: Iterable[str], path: tuple) -> None:
        for key in mapping:
            if key not in known:
                self.fail(path + (key,), f"unknown key `{key}`")


def codes(c: Checker, value, path: tuple, known: set[str], what: str) -> tuple[str, ...]:
    """Return a list of codes the plan defines, naming each unknown one."""
    out = []
    for i, code in enumerate(c.sequence(value, path)):
        if code not in known:
            c.fail(path + (i,), f"unknown {what} `{code}`")
        out.append(str(code))
    return tuple(out)
