"""Pure functions: from an event's category to a suggested level and lead department."""
from __future__ import annotations

from dataclasses import dataclass

from incidents.plan import Plan


@dataclass(frozen=True)
class Suggestion:
    """What the plan suggests for a category; a person still decides the level."""

    category: str
    level: str | None
    lead_department: str
    support_departments: tuple[str, ...]
    hints: tuple[str, ...]


def suggest(plan: Plan, category: str) -> Suggestion:
    """Suggest a level and the departments for an event of this category."""
    cat = plan.category(category)
    hints = plan.level(cat.suggested_level).hints if cat.suggested_level else ()
    support = tuple(d for d in plan.support_departments if d != cat.lead_department)
    return Suggestion(cat.code, cat.suggested_level, cat.lead_department, support, hints)


def level_rank(level: str | None) -> int:
    """Rank levels so that Ⅰ is the most severe (4) and ungraded is 0."""
    return {"I": 4, "II": 3, "III": 2, "IV": 1}.get(level or "", 0)
