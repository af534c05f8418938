"""Pure functions: which clocks the plan calls for, when they fire, durations and grading."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from incidents.response.deadlines import IncidentFacts, desired_clocks, fire_points, first_stage, stage_to_fire
from incidents.kernel.durations import as_utc, chinese_duration, format_duration, parse_duration
from incidents.response.grading import level_rank, suggest
from incidents.plan import DEFAULT_PLAN_FILE, load_plan_file

PLAN = load_plan_file(DEFAULT_PLAN_FILE)
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)


def facts(level, category="food_poisoning", *, initial=None, activated=None, ended=None, history=None,
          cycles=(), informed=None):
    """Facts of an incident a station discovered at T0, graded at T0 unless a history is given.

    The bureau learns of it from the station's report unless `informed` says otherwise.
    """
    return IncidentFacts(
        category=category, level=level,
        level_history=tuple(history) if history is not None else ((level, T0),),
        discovered_at=T0, initial_report_at=initial, activated_at=activated, ended_at=ended,
        bureau_informed_at=informed or initial,
        satisfied_cycles=tuple(cycles),
    )


def clocks(f) -> dict[tuple[str, int], tuple[datetime, datetime]]:
    return {(c.kind, c.cycle): (c.starts_at, c.due_at) for c in desired_clocks(PLAN, f)}


def kinds(f) -> set[str]:
    return {c.kind for c in desired_clocks(PLAN, f)}


# --- desired_clocks ------------------------------------------------------------


def test_ungraded_event_runs_only_the_reporting_clocks():
    assert clocks(facts(None)) == {("initial_report", 0): (T0, T0 + H)}
    got = clocks(facts(None, initial=T0 + 20 * M))
    assert got == {("initial_report", 0): (T0, T0 + H),
                   ("bureau_report", 0): (T0 + 20 * M, T0 + 50 * M)}


def test_level_one_activated():
    act = T0 + 2 * H
    got = clocks(facts("I", "epidemic", initial=T0 + 30 * M, activated=act))
    assert got == {
        ("initial_report", 0): (T0, T0 + H),
        ("bureau_report", 0): (T0 + 30 * M, T0 + 60 * M),
        ("progress_report", 0): (act, act + D),
        ("command_meeting", 0): (act, act + 12 * H),
        ("staff_assembly", 0): (act, act + H),
    }


def test_level_two_food_poisoning_gets_measures_and_work_team():
    act = T0 + 2 * H
    got = clocks(facts("II", "food_poisoning", activated=act))
    assert got == {
        ("initial_report", 0): (T0, T0 + H),
        ("progress_report", 0): (act, act + 3 * D),
        ("measures_issued", 0): (act, act + 24 * H),
        ("work_team_dispatched", 0): (act, act + 24 * H),
    }


@pytest.mark.parametrize("category", ["food_poisoning", "fire_explosion", "pollution", "special_equipment_accident",
                                      "drug_safety"])
def test_work_team_at_level_two_for_the_plans_categories(category):
    assert "work_team_dispatched" in kinds(facts("II", category, activated=T0 + H))


@pytest.mark.parametrize("category", ["regional_epidemic", "disaster", "other", "mass_incident"])
def test_no_work_team_at_level_two_for_other_categories(category):
    got = kinds(facts("II", category, activated=T0 + H))
    assert "work_team_dispatched" not in got
    assert "measures_issued" in got


def test_level_three_work_team_except_for_mass_incidents():
    act = T0 + H
    vicious = clocks(facts("III", "vicious_case", activated=act))
    assert vicious[("work_team_dispatched", 0)] == (act, act + 24 * H)
    assert ("handling_opinion", 0) not in vicious
    mass = clocks(facts("III", "mass_incident", activated=act))
    assert mass[("handling_opinion", 0)] == (act, act + 24 * H)
    assert ("work_team_dispatched", 0) not in mass
    assert mass[("progress_report", 0)] == (act, act + 7 * D)


@pytest.mark.parametrize("level", ["I", "II", "IV"])
def test_handling_opinion_only_at_level_three(level):
    assert "handling_opinion" not in kinds(facts(level, "mass_incident", activated=T0 + H))


def test_level_four_has_no_station_or_bureau_clock():
    act = T0 + H
    got = clocks(facts("IV", "counterfeit", initial=T0 + 10 * M, activated=act))
    assert got == {("progress_report", 0): (act, act + 7 * D)}


def test_no_response_clock_before_activation():
    for level in ("I", "II", "III", "IV"):
        assert kinds(facts(level, "mass_incident")) <= {"initial_report", "bureau_report"}


@pytest.mark.parametrize("level,days", [("I", 4), ("II", 4), ("III", 4), ("IV", 8)])
def test_closing_report_runs_from_the_end(level, days):
    act, end = T0 + H, T0 + 3 * H
    got = clocks(facts(level, "other", activated=act, ended=end))
    assert got[("closing_report", 0)] == (end, end + days * D)


def test_progress_cycles_follow_each_report():
    act = T0 + H
    first, second = act + 2 * D, act + 4 * D
    got = clocks(facts("II", "other", activated=act, cycles=[("progress_report", (first, second))]))
    progress = {k: v for k, v in got.items() if k[0] == "progress_report"}
    assert progress == {
        ("progress_report", 0): (act, act + 3 * D),
        ("progress_report", 1): (first, first + 3 * D),
        ("progress_report", 2): (second, second + 3 * D),
    }


def test_no_new_progress_cycle_after_the_end():
    act = T0 + H
    got = clocks(facts("I", "epidemic", activated=act, ended=act + 5 * H))
    assert ("progress_report", 0) not in got  # due after the end: no longer asked for
    # A cycle that came due before the end stays (it was missed or met, and it is on record).
    got = clocks(facts("I", "epidemic", activated=act, ended=act + 2 * D))
    assert got[("progress_report", 0)] == (act, act + D)


def test_regrade_to_level_one_starts_its_measures_from_the_regrade():
    act, regrade = T0 + H, T0 + 5 * H
    f = facts("I", "vicious_case", activated=act, history=[(None, T0), ("III", T0 + 30 * M), ("I", regrade)])
    got = clocks(f)
    assert got[("command_meeting", 0)] == (regrade, regrade + 12 * H)
    assert got[("staff_assembly", 0)] == (regrade, regrade + H)
    # The progress clock runs at Ⅰ's daily pace from the re-grade that set it, not from the activation.
    assert got[("progress_report", 0)] == (regrade, regrade + D)
    assert ("work_team_dispatched", 0) not in got


LEVELS = (None, "I", "II", "III", "IV")
# Every pair of levels, both directions; an ungraded event cannot have been activated.
PAIRS = [(a, b, on) for a in LEVELS for b in LEVELS for on in (False, True)
         if a != b and b is not None and not (on and a is None)]


@pytest.mark.parametrize("before,after,activated", PAIRS,
                         ids=[f"{a or 'ungraded'}->{b}{'-active' if on else ''}" for a, b, on in PAIRS])
def test_a_regrade_never_makes_a_clock_owed_before_the_regrade(before, after, activated):
    # Discovered at T0, graded `before` at registration, the station reported at 20 min, activated at 1 h
    # (when graded), re-graded 30 hours later: whatever the re-grade makes owed is owed from then.
    act = T0 + H if activated else None
    regrade = T0 + 30 * H
    old = facts(before, "food_poisoning", initial=T0 + 20 * M, activated=act, history=[(before, T0)])
    new = facts(after, "food_poisoning", initial=T0 + 20 * M, activated=act, history=[(before, T0), (after, regrade)])
    kept = {(c.kind, c.cycle): c for c in desired_clocks(PLAN, old)}
    for c in desired_clocks(PLAN, new):
        previous = kept.get((c.kind, c.cycle))
        if previous is None:
            # A clock the re-grade makes applicable starts at the re-grade, never born overdue.
            assert c.starts_at >= regrade and c.due_at > regrade, (c.kind, c.starts_at, c.due_at)
        elif PLAN.clock(c.kind).duration(before) != PLAN.clock(c.kind).duration(after) and PLAN.clock(c.kind).repeats:
            # A new pace runs from the re-grade.
            assert c.starts_at == regrade and c.due_at == regrade + PLAN.clock(c.kind).duration(after)
        else:
            assert (c.starts_at, c.due_at) == (previous.starts_at, previous.due_at), c.kind


def test_clock_specs_carry_warnings_and_responsibility():
    specs = {c.kind: c for c in desired_clocks(PLAN, facts(None, initial=T0))}
    assert specs["initial_report"].warn_before == (900, 300)
    assert specs["initial_report"].responsible == "station"
    assert specs["bureau_report"].responsible == "office"
    assert specs["initial_report"].name == PLAN.clock("initial_report").name


# --- firing ----------------------------------------------------------------------


def test_fire_points_are_the_warnings_then_the_due_time():
    assert fire_points(T0, T0 + H, [900, 300]) == [T0 + 45 * M, T0 + 55 * M, T0 + H]
    # Order of warn_before does not matter; duplicates collapse.
    assert fire_points(T0, T0 + H, [300, 900, 300]) == [T0 + 45 * M, T0 + 55 * M, T0 + H]
    assert fire_points(T0, T0 + H, []) == [T0 + H]


def test_fire_points_drop_warnings_before_the_start():
    # A 10-minute clock has no room for a 15-minute warning; a warning at the start is dropped too.
    assert fire_points(T0, T0 + 10 * M, [900, 300]) == [T0 + 5 * M, T0 + 10 * M]
    assert fire_points(T0, T0 + 5 * M, [300]) == [T0 + 5 * M]


def test_first_stage():
    points = [T0 + 45 * M, T0 + 55 * M, T0 + H]
    assert first_stage(points, T0) == 0
    assert first_stage(points, T0 + 45 * M - timedelta(seconds=1)) == 0
    assert first_stage(points, T0 + 45 * M) == 0
    assert first_stage(points, T0 + 50 * M) == 0
    assert first_stage(points, T0 + 56 * M) == 1
    assert first_stage(points, T0 + 2 * H) == 2


def test_stage_to_fire():
    points = [T0 + 45 * M, T0 + 55 * M, T0 + H]
    assert stage_to_fire(points, 0, T0 + 44 * M) is None
    assert stage_to_fire(points, 0, T0 + 45 * M) == 0
    assert stage_to_fire(points, 1, T0 + 50 * M) is None
    assert stage_to_fire(points, 1, T0 + 55 * M) == 1
    assert stage_to_fire(points, 2, T0 + H) == 2
    assert stage_to_fire(points, 3, T0 + 2 * H) is None  # everything fired


def test_stage_to_fire_skips_overtaken_warnings():
    points = [T0 + 45 * M, T0 + 55 * M, T0 + H]
    # Nobody was awake from before the first warning until after the due time: only the overdue fires.
    assert stage_to_fire(points, 0, T0 + 2 * H) == 2
    assert stage_to_fire(points, 0, T0 + 57 * M) == 1


# --- durations -------------------------------------------------------------------


@pytest.mark.parametrize("text,delta", [
    ("PT1H", H), ("PT30M", 30 * M), ("P3D", 3 * D), ("P1D", D), ("PT24H", 24 * H), ("PT15S", timedelta(seconds=15)),
    ("P1W", 7 * D), ("P1DT2H3M4S", D + 2 * H + 3 * M + timedelta(seconds=4)), ("PT0M", timedelta(0)),
])
def test_parse_duration(text, delta):
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "1H", "PT1.5H", "-PT1H", "pt1h", "PT1H ", " PT1H", "P1H",
                                  "PT1D", "P1M1D", "1 hour", "PT", "P-1D"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_duration_refuses_none():
    with pytest.raises(ValueError):
        parse_duration(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["PT1H", "PT30M", "P3D", "P1DT2H3M4S", "PT15S", "P8D", "PT12H", "PT0S",
                                  "P1DT30M", "PT1H5S"])
def test_format_parse_round_trip_from_text(text):
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("delta", [H, 30 * M, 3 * D, D + timedelta(seconds=1), timedelta(seconds=59), 7 * D,
                                   25 * H, timedelta(0), timedelta(days=400, minutes=7)])
def test_format_parse_round_trip_from_timedelta(delta):
    assert parse_duration(format_duration(delta)) == delta


def test_format_duration_normalises():
    assert format_duration(24 * H) == "P1D"
    assert format_duration(parse_duration("P1W")) == "P7D"
    assert format_duration(90 * M) == "PT1H30M"


@pytest.mark.parametrize("seconds,text", [
    (600, "10分钟"), (3600, "1小时"), (86400, "1天"), (93900, "1天2小时5分钟"), (45, "45秒"), (0, "0秒"),
    (-600, "10分钟"), (59.6, "1分钟"), (86400 + 30, "1天"), (3 * 86400 + 60, "3天1分钟"),
])
def test_chinese_duration(seconds, text):
    assert chinese_duration(seconds) == text


def test_as_utc_refuses_naive_and_converts_offsets():
    with pytest.raises(ValueError):
        as_utc(datetime(2026, 11, 20, 9, 0))
    beijing = timezone(timedelta(hours=8))
    got = as_utc(datetime(2026, 11, 20, 9, 0, tzinfo=beijing))
    assert got == T0 and got.utcoffset() == timedelta(0)


# --- grading ---------------------------------------------------------------------


def test_suggest_for_food_poisoning():
    s = suggest(PLAN, "food_poisoning")
    assert s.level == "II" and s.lead_department == "food_coord"
    assert s.support_departments == ("office", "publicity", "finance", "personnel", "legal")
    assert s.hints == PLAN.level("II").hints and s.hints


def test_suggest_leaves_out_the_lead_from_support():
    s = suggest(PLAN, "mass_incident")
    assert s.level == "III" and s.lead_department == "office"
    assert "office" not in s.support_departments


def test_suggest_without_a_typical_level():
    s = suggest(PLAN, "other")
    assert s.level is None and s.hints == ()


def test_suggest_unknown_category():
    with pytest.raises(KeyError):
        suggest(PLAN, "no_such_category")


def test_level_rank():
    assert [level_rank(x) for x in ("I", "II", "III", "IV", None, "")] == [4, 3, 2, 1, 0, 0]
