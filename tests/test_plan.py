"""The plan file: the default loads, its numbers are the plan's, broken files are refused by line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app import create_app
from incidents.plan import DEFAULT_PLAN_FILE, PlanError, load_plan_file, load_plan_text
from tests.conftest import repo_root
from tests.helpers import by_kind, incident_payload, iso

DEFAULT_TEXT = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")
PLAN_SOURCE = Path("/work/shared/seeds/003_9d8d31569a48d61f.txt")


# --- helpers -------------------------------------------------------------------


def line_of(text: str, needle: str, start: int = 1) -> int:
    """Return the 1-based number of the first line at or after `start` that contains needle."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


def replace_once(text: str, old: str, new: str) -> str:
    """Replace a snippet that must occur exactly once."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def issues_of(text: str) -> list:
    with pytest.raises(PlanError) as info:
        load_plan_text(text, "broken.yaml")
    return info.value.issues


def cli_check(app, path: Path | None = None):
    runner = app.test_cli_runner()
    args = ["plan", "check"] + ([str(path)] if path is not None else [])
    return runner.invoke(args=args)


@pytest.fixture
def plan_app(tmp_path):
    """An app on a throw-away SQLite file (plan commands need no tables)."""
    application = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'plan.db'}", "SECRET_KEY": "test",
                              "TESTING": True, "SCHEDULER": "off"})
    yield application
    application.extensions["yingji"].engine.dispose()


# --- broken variants of the default plan --------------------------------------
# Each: (id, transform(text) -> text, function(text) -> expected line, words the message must hold)


def _bad_duration(text):
    return replace_once(text, "    due_after: PT1H\n    responsible: station", "    due_after: 1 hour\n    responsible: station")


def _unknown_department(text):
    return replace_once(text, "name: 食物中毒, lead_department: food_coord", "name: 食物中毒, lead_department: kitchen")


def _duplicate_key(text):
    return replace_once(text, '  version: "2021-12-06.1"\n', '  version: "2021-12-06.1"\n  version: "again"\n')


def _missing_level(text):
    start = text.index("  - code: IV\n")
    end = text.index("\n# Who answers for a clock")
    return text[:start] + text[end + 1:]


def _warning_too_long(text):
    block = text.index("  - kind: bureau_report")
    head, tail = text[:block], text[block:]
    return head + tail.replace("warn_before: [PT15M, PT5M]", "warn_before: [PT45M, PT5M]", 1)


def _activation_clock_ungraded(text):
    return replace_once(text, "    due_after: {I: P1D, II: P3D, III: P7D, IV: P7D}\n    responsible: lead\n"
                              "    satisfied_by: progress\n    warn_before: [PT2H, PT30M]\n    applies:\n"
                              "      - levels: [I, II, III, IV]",
                        "    due_after: {I: P1D, II: P3D, III: P7D, IV: P7D, ungraded: P3D}\n    responsible: lead\n"
                        "    satisfied_by: progress\n    warn_before: [PT2H, PT30M]\n    applies:\n"
                        "      - levels: [ungraded, I, II, III, IV]")


def _yaml_syntax(text):
    return replace_once(text, "  bureau: 中牟县市场监督管理局\n", "  bureau: 中牟县: 市场监督管理局\n")


def _unknown_urgency(text):
    return replace_once(text, "      bureau: 特急\n", "      bureau: 十万火急\n")


BROKEN = {
    "unknown_urgency": (_unknown_urgency, lambda t: [line_of(t, "bureau: 十万火急")], "特急"),
    "bad_duration": (_bad_duration, lambda t: [line_of(t, "due_after: 1 hour")], "ISO 8601"),
    "unknown_department": (_unknown_department, lambda t: [line_of(t, "lead_department: kitchen")], "kitchen"),
    "duplicate_key": (_duplicate_key, lambda t: [line_of(t, 'version: "again"')], "duplicate"),
    # The sequence node starts at its first item; the `levels:` key line is as good a pointer.
    "missing_level": (_missing_level, lambda t: [line_of(t, "levels:"), line_of(t, "levels:") + 1], "IV"),
    "warning_longer_than_clock": (_warning_too_long, lambda t: [line_of(t, "[PT45M, PT5M]")], "warning"),
    "activation_clock_for_ungraded": (
        _activation_clock_ungraded,
        lambda t: [line_of(t, "- levels: [ungraded, I, II, III, IV]") - 1,
                   line_of(t, "- levels: [ungraded, I, II, III, IV]")],
        "ungraded"),
    "yaml_syntax": (_yaml_syntax, lambda t: [line_of(t, "bureau: 中牟县: 市场监督管理局")], ""),
}


# --- the default plan ----------------------------------------------------------


def test_default_plan_loads():
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    assert plan.id == "zhongmou-amr-emergency"
    assert plan.bureau == "中牟县市场监督管理局"
    assert plan.timezone == "Asia/Shanghai"
    assert [lv.code for lv in plan.levels] == ["I", "II", "III", "IV"]
    assert len(plan.sha256) == 64 and plan.source_text == DEFAULT_TEXT


def test_default_plan_matches_the_emergency_plan_text():
    """Plan §三(二) and §三(三), §五(一): every number of the default plan file is the plan's."""
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    initial, bureau = plan.clock("initial_report"), plan.clock("bureau_report")
    progress, closing = plan.clock("progress_report"), plan.clock("closing_report")
    levels = ("I", "II", "III", "IV")

    # §三(二)2(1): the station within 1 hour of learning of it, the bureau within 30 minutes; Ⅰ–Ⅲ.
    assert initial.starts_on == "discovered" and initial.responsible == "station"
    # The bureau's 30 minutes run from when it learns of the event: the station's report, or its own registration.
    assert bureau.starts_on == "bureau_informed" and bureau.responsible == "office"
    for level in ("I", "II", "III", None):
        assert initial.applies_to(level, "food_poisoning") and initial.duration(level) == timedelta(hours=1)
        assert bureau.applies_to(level, "food_poisoning") and bureau.duration(level) == timedelta(minutes=30)
    assert not initial.applies_to("IV", "counterfeit")
    assert not bureau.applies_to("IV", "counterfeit")

    # §三(二)2(2): Ⅰ every day, Ⅱ every 3 days, Ⅲ and Ⅳ every week, from activation, repeating.
    assert progress.starts_on == "activated" and progress.repeats
    assert {lv: progress.duration(lv) for lv in levels} == {
        "I": timedelta(days=1), "II": timedelta(days=3), "III": timedelta(days=7), "IV": timedelta(days=7)}
    assert all(progress.applies_to(lv, "other") for lv in levels)

    # §三(二)2(3): closing report within 4 days for Ⅰ–Ⅲ, 8 days for Ⅳ, from the end.
    assert closing.starts_on == "ended" and not closing.repeats
    assert {lv: closing.duration(lv) for lv in levels} == {
        "I": timedelta(days=4), "II": timedelta(days=4), "III": timedelta(days=4), "IV": timedelta(days=8)}
    # ... and 上报县政府和市局: the written report is met only once it reaches both.
    assert [(r.code, r.name, r.required) for r in plan.reports.recipients_of("closing")] == [
        ("county_government", "中牟县人民政府", True), ("city_bureau", "郑州市市场监督管理局", True)]
    # The first reports go 特急 (GB/T 9704 §7.2.4), as the plan's 立即 and 30 minutes ask; the later ones go plain.
    assert {k: plan.reports.documents.urgency_of(k) for k in ("initial", "bureau", "progress", "closing")} == {
        "initial": "特急", "bureau": "特急", "progress": None, "closing": None}

    # §三(三)1(1): Ⅰ command HQ meeting within 12 hours; 1(6) staff assembled within 1 hour.
    meeting = plan.clock("command_meeting")
    assert meeting.starts_on == "activated" and meeting.duration("I") == timedelta(hours=12)
    assert meeting.applies_to("I", "epidemic") and not meeting.applies_to("II", "epidemic")
    assert plan.clock("staff_assembly").duration("I") == timedelta(hours=1)
    # §三(三)2: Ⅱ measures within 24 hours.
    assert plan.clock("measures_issued").duration("II") == timedelta(hours=24)

    # §五(一): Ⅰ/Ⅱ ended by the leadership group, Ⅲ/Ⅳ by the command HQ (or the deputy director).
    assert plan.level("I").end_declared_by == ("leader",)
    assert plan.level("II").end_declared_by == ("leader",)
    for code in ("III", "IV"):
        assert "commander" in plan.level(code).end_declared_by

    # §三(一) names and the national warning colours; Ⅳ may go without a command HQ.
    assert [(lv.numeral, lv.name, lv.colour) for lv in plan.levels] == [
        ("Ⅰ", "特别重大", "red"), ("Ⅱ", "重大", "orange"), ("Ⅲ", "较大", "yellow"), ("Ⅳ", "一般", "blue")]
    assert [lv.command_hq for lv in plan.levels] == ["required", "required", "required", "optional"]


@pytest.mark.skipif(not PLAN_SOURCE.exists(), reason="the plan text is not in this checkout")
def test_plan_text_says_what_the_plan_file_encodes():
    """Guard the digest itself: the sentences the numbers above come from are in the plan text."""
    source = PLAN_SOURCE.read_text(encoding="utf-8")
    for phrase in ("在1小时内向当地政府和局报告", "局须在30分钟内", "一日一报", "三日一报", "一周一报",
                   "四日内形成书面报告", "八日内上报", "12小时内", "由应急领导小组宣布应急状态结束",
                   "由应急指挥部或分管局长宣布应急状态结束"):
        assert phrase in source


def test_plan_check_command_accepts_the_default_plan(plan_app):
    result = cli_check(plan_app)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "2021-12-06.1" in result.output
    result = cli_check(plan_app, DEFAULT_PLAN_FILE)
    assert result.exit_code == 0, result.output


def test_plan_check_through_the_real_entry_point(tmp_path):
    """`flask --app wsgi plan check FILE` as an operator runs it: 0 for the default, 1 for a broken one."""
    env = {**os.environ, "YINGJI_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "x",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SCHEDULER": "off"}
    env.pop("PLAN_FILE", None)
    ok = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "plan", "check"], cwd=repo_root(),
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    broken = tmp_path / "broken.yaml"
    text = _bad_duration(DEFAULT_TEXT)
    broken.write_text(text, encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "plan", "check", str(broken)],
                         cwd=repo_root(), env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert f"{broken}:{line_of(text, 'due_after: 1 hour')}:" in bad.stderr


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_broken_plan_is_refused_naming_the_line(variant, plan_app, tmp_path):
    transform, expected_lines, words = BROKEN[variant]
    text = transform(DEFAULT_TEXT)
    assert text != DEFAULT_TEXT
    lines = expected_lines(text)

    issues = issues_of(text)
    hits = [i for i in issues if i.line in lines and words.lower() in (i.path + " " + i.message).lower()]
    assert hits, f"expected an issue at line {lines} mentioning {words!r}; got {[str(i) for i in issues]}"

    path = tmp_path / f"{variant}.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli_check(plan_app, path)
    assert result.exit_code == 1, result.output
    reported = {int(n) for n in re.findall(rf"{re.escape(str(path))}:(\d+):", result.output)}
    assert reported & set(lines), result.output
    assert "valid —" not in result.output


def test_every_problem_is_reported_not_only_the_first():
    text = _bad_duration(_unknown_department(_warning_too_long(DEFAULT_TEXT)))
    lines = {i.line for i in issues_of(text)}
    assert {line_of(text, "due_after: 1 hour"), line_of(text, "lead_department: kitchen"),
            line_of(text, "[PT45M, PT5M]")} <= lines


def test_unreadable_and_empty_plans_are_refused(tmp_path):
    with pytest.raises(PlanError):
        load_plan_file(tmp_path / "missing.yaml")
    with pytest.raises(PlanError):
        load_plan_text("", "empty")
    with pytest.raises(PlanError) as info:
        load_plan_text(DEFAULT_TEXT.replace("office_department: office", "office_department: office\nsurprise: 1"))
    assert any("surprise" in i.message for i in info.value.issues)


@pytest.mark.parametrize("variant", ["bad_duration", "yaml_syntax", "missing_level"])
def test_app_refuses_to_start_with_an_invalid_plan(variant, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(BROKEN[variant][0](DEFAULT_TEXT), encoding="utf-8")
    with pytest.raises(PlanError):
        create_app({"PLAN_FILE": str(path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "SECRET_KEY": "test", "TESTING": True, "SCHEDULER": "off"})


def test_app_refuses_to_start_without_its_plan_file(tmp_path):
    with pytest.raises(PlanError):
        create_app({"PLAN_FILE": str(tmp_path / "nowhere.yaml"), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "SECRET_KEY": "test", "TESTING": True, "SCHEDULER": "off"})


# --- a running clock keeps the plan it started under ----------------------------


def test_incident_keeps_the_plan_version_it_was_registered_under(app, db_url, clock, users, tmp_path):
    office, leader = users["office"], users["leader"]
    r = office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()), level="II"))
    assert r.status_code == 201, r.get_json()
    old_id = r.get_json()["id"]
    assert r.get_json()["plan"]["version"] == "2021-12-06.1"

    # The bureau edits its plan: Ⅱ progress every 2 days, a new version; a second app serves it.
    edited = replace_once(DEFAULT_TEXT, "{I: P1D, II: P3D, III: P7D, IV: P7D}", "{I: P1D, II: P2D, III: P7D, IV: P7D}")
    edited = replace_once(edited, 'version: "2021-12-06.1"', 'version: "2026-11-01.1"')
    path = tmp_path / "edited.yaml"
    path.write_text(edited, encoding="utf-8")
    second = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                         "SCHEDULER": "off", "PLAN_FILE": str(path)})
    try:
        client = second.test_client()
        leader_h = {"Authorization": f"Bearer {leader.token}"}
        office_h = {"Authorization": f"Bearer {office.token}"}
        assert client.get("/api/v1/plan", headers=leader_h).get_json()["version"] == "2026-11-01.1"

        clock.advance(minutes=10)
        r = client.post(f"/api/v1/incidents/{old_id}/activate", headers=leader_h)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["plan"]["version"] == "2021-12-06.1"
        progress = by_kind(r.get_json()["deadlines"])["progress_report"]
        assert progress["due_at"] == iso(clock.now() + timedelta(days=3))

        r = client.post("/api/v1/incidents", headers=office_h,
                        json=incident_payload(discovered_at=iso(clock.now()), level="II"))
        assert r.status_code == 201, r.get_json()
        new_id = r.get_json()["id"]
        assert r.get_json()["plan"]["version"] == "2026-11-01.1"
        r = client.post(f"/api/v1/incidents/{new_id}/activate", headers=leader_h)
        assert r.status_code == 200, r.get_json()
        progress = by_kind(r.get_json()["deadlines"])["progress_report"]
        assert progress["due_at"] == iso(clock.now() + timedelta(days=2))

        # The first app, still on the old file, sees the second incident under its own (new) plan.
        r = office.get(f"/api/v1/incidents/{new_id}")
        assert r.get_json()["plan"]["version"] == "2026-11-01.1"
        assert by_kind(r.get_json()["deadlines"])["progress_report"]["due_at"] == iso(clock.now() + timedelta(days=2))
    finally:
        second.extensions["yingji"].engine.dispose()


def test_two_first_registrations_under_a_plan_version_both_succeed(app, wiring, db_url, clock, users):
    """The first incidents under a (new) plan version are registered at the same time.

    Made deterministic: B looks for the stored plan version and finds none, then A (which stored
    it) commits, then B goes on. Both registrations must succeed under the one stored version.
    """
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE")
    from sqlalchemy import event, func, select

    from incidents.response import service
    from incidents.models import Incident, PlanVersion, User

    def facts(title):
        return service.NewIncident(title=title, category="food_poisoning", discovered_at=clock.now(),
                                   location="某地", station="chengguan", source="电话", nature="食物中毒",
                                   scope="", trend="", measures_taken="", casualties="")

    state = {"done": False}
    with wiring.sessions() as a, wiring.sessions() as b:
        office = a.get(User, users["office"].id)
        service.register_incident(a, wiring.plan, facts=facts("甲"), actor=office, now=clock.now())
        a.flush()  # A has stored the plan version, not yet committed

        def after(conn, cursor, statement, parameters, context, executemany):
            if not state["done"] and "FROM plan_versions" in statement:
                state["done"] = True
                a.commit()

        event.listen(wiring.engine, "after_cursor_execute", after)
        try:
            service.register_incident(b, wiring.plan, facts=facts("乙"), actor=b.get(User, users["office"].id),
                                      now=clock.now())
            b.commit()
        finally:
            event.remove(wiring.engine, "after_cursor_execute", after)
        assert state["done"]
    with wiring.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 2
        assert session.scalar(select(func.count()).select_from(PlanVersion)) == 1


def test_plan_check_on_a_missing_file(plan_app, tmp_path):
    result = cli_check(plan_app, tmp_path / "nowhere.yaml")
    assert result.exit_code == 1
    assert "nowhere.yaml" in result.output and "cannot read" in result.output


@pytest.mark.parametrize("kind,levels", [("closing_report", "[ungraded, I, II, III, IV]")])
def test_a_clock_that_starts_at_the_end_cannot_apply_to_ungraded(kind, levels):
    text = replace_once(DEFAULT_TEXT, "    due_after: {I: P4D, II: P4D, III: P4D, IV: P8D}\n    responsible: lead\n"
                                      "    satisfied_by: closing\n    warn_before: [P1D, PT2H]\n    applies:\n"
                                      "      - levels: [I, II, III, IV]",
                        "    due_after: {I: P4D, II: P4D, III: P4D, IV: P8D, ungraded: P4D}\n    responsible: lead\n"
                        "    satisfied_by: closing\n    warn_before: [P1D, PT2H]\n    applies:\n"
                        f"      - levels: {levels}")
    issues = issues_of(text)
    line = line_of(text, f"- levels: {levels}", start=line_of(text, f"kind: {kind}"))
    assert any(i.line in (line - 1, line) and "ungraded" in i.message for i in issues), [str(i) for i in issues]
