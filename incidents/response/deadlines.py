"""Pure functions: which clocks an incident's facts call for, and when each fires."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from incidents.plan import ClockRule, Plan


@dataclass(frozen=True)
class IncidentFacts:
    """What the clocks depend on, read off an incident."""

    category: str
    level: str | None
    level_history: tuple[tuple[str | None, datetime], ...]  # (level, since), oldest first
    discovered_at: datetime
    initial_report_at: datetime | None
    # When the bureau learned of it: registered by the bureau itself, or the station's report.
    bureau_informed_at: datetime | None
    activated_at: datetime | None
    ended_at: datetime | None
    owes_reports: bool = True  # False for a holiday watch: a warning with tasks, no clock at all
    # When each cycle of a repeating clock was satisfied, per clock kind, in cycle order.
    satisfied_cycles: tuple[tuple[str, tuple[datetime, ...]], ...] = ()

    def cycles_of(self, kind: str) -> tuple[datetime, ...]:
        """Return when the cycles of a repeating clock were satisfied."""
        return dict(self.satisfied_cycles).get(kind, ())


@dataclass(frozen=True)
class ClockSpec:
    """A clock as the plan wants it to be now."""

    kind: str
    cycle: int
    name: str
    starts_at: datetime
    due_at: datetime
    responsible: str
    warn_before: tuple[int, ...]  # seconds before due


def desired_clocks(plan: Plan, facts: IncidentFacts) -> list[ClockSpec]:
    """Return every clock the plan calls for given the facts, satisfied or not."""
    out: list[ClockSpec] = []
    if not facts.owes_reports:
        return out
    for rule in plan.clocks:
        if not rule.applies_to(facts.level, facts.category):
            continue
        start = _start(rule, facts)
        if start is None:
            continue
        duration = rule.duration(facts.level)
        if rule.repeats:
            out.extend(_cycles(rule, facts, start, duration))
        elif rule.starts_on != "activated" or facts.ended_at is None or start + duration <= facts.ended_at:
            # A response measure not yet due when the emergency ends is no longer asked for;
            # one that came due during the response stays, met or missed.
            out.append(_spec(rule, 0, start, start + duration))
    return out


def _own_start(rule: ClockRule, facts: IncidentFacts) -> datetime | None:
    return {"discovered": facts.discovered_at, "initial_report": facts.initial_report_at,
            "bureau_informed": facts.bureau_informed_at, "activated": facts.activated_at,
            "ended": facts.ended_at}[rule.starts_on]


def _start(rule: ClockRule, facts: IncidentFacts) -> datetime | None:
    # A clock is owed from its own start event, or from the re-grade that made it apply (the time
    # the level became known), whichever came later: nothing is owed before it could be known.
    own = _own_start(rule, facts)
    if own is None:
        return None
    since = applicable_since(rule, facts)
    return own if since is None else max(own, since)


def applicable_since(rule: ClockRule, facts: IncidentFacts) -> datetime | None:
    """Return the re-grade that brought the incident into the levels a clock applies to (None: from the start)."""
    since = None
    for n in range(len(facts.level_history) - 1, -1, -1):
        level, changed_at = facts.level_history[n]
        if not rule.applies_to(level, facts.category):
            return since
        # The first grading (at registration) is not a re-grade: the clock runs from its own start.
        since = changed_at if n > 0 else None
    return since


def _pace_since(rule: ClockRule, facts: IncidentFacts) -> datetime | None:
    """Return the re-grade that set the current pace of a repeating clock (Ⅲ weekly → Ⅰ daily), if any."""
    history = facts.level_history
    for n in range(len(history) - 1, 0, -1):
        level, changed_at = history[n]
        before = history[n - 1][0]
        if not rule.applies_to(before, facts.category):
            return None
        if rule.duration(level) != rule.duration(before):
            return changed_at
    return None


def _cycles(rule: ClockRule, facts: IncidentFacts, start: datetime, duration: timedelta) -> list[ClockSpec]:
    done = facts.cycles_of(rule.kind)
    starts = [start, *done]
    out = [_spec(rule, i, s, s + duration) for i, s in enumerate(starts[:-1])]
    # The cycle still open runs at the new pace from the re-grade that set it, not from before it:
    # a daily report is never owed for a day that passed while the event was graded weekly.
    pace = _pace_since(rule, facts)
    open_start = starts[-1] if pace is None else max(starts[-1], pace)
    open_due = open_start + duration
    # After the end of the emergency no further cycle is due; one already due is kept.
    if facts.ended_at is None or open_due <= facts.ended_at:
        out.append(_spec(rule, len(starts) - 1, open_start, open_due))
    return out


def _spec(rule: ClockRule, cycle: int, start: datetime, due: datetime) -> ClockSpec:
    return ClockSpec(rule.kind, cycle, rule.name, start, due, rule.responsible,
                     tuple(int(w.total_seconds()) for w in rule.warn_before))


def fire_points(starts_at: datetime, due_at: datetime, warn_before: Sequence[int]) -> list[datetime]:
    """Return when a clock fires: each warning that falls after its start, then the due time."""
    warnings = {due_at - timedelta(seconds=w) for w in warn_before}
    return sorted(p for p in warnings if p > starts_at) + [due_at]


def first_stage(points: Sequence[datetime], now: datetime) -> int:
    """Return the stage a newly timed clock waits for: the latest point passed, else the first."""
    passed = [i for i, p in enumerate(points) if p <= now]
    return passed[-1] if passed else 0


def stage_to_fire(points: Sequence[datetime], fire_stage: int, now: datetime) -> int | None:
    """Return the stage to fire now, skipping warnings overtaken while nobody was awake."""
    due = [i for i in range(fire_stage, len(points)) if points[i] <= now]
    return due[-1] if due else None
