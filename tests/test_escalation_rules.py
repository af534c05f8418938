"""The escalation chain as plan data, frozen; its schedule; the texts of bundles and handled notices."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from incidents import escalation
from incidents.escalation.messages import MAX_UNITS, bundle_text, handled_text, spoken, ucs2_units
from incidents.plan import DEFAULT_PLAN_FILE, PlanError, load_plan_text

DEFAULT_TEXT = DEFAULT_PLAN_FILE.read_text(encoding="utf-8")
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


def issues_of(text: str) -> str:
    with pytest.raises(PlanError) as info:
        load_plan_text(text, "broken.yaml")
    return "\n".join(str(i) for i in info.value.issues)


def test_the_default_plan_escalates_faster_at_higher_levels():
    plan = load_plan_text(DEFAULT_TEXT)
    first_sms = {}
    for level in ("I", "II", "III", "IV"):
        chain = escalation.chain_for(plan, level)
        first_sms[level] = next(s["after"] for s in chain["steps"] if s["channel"] == "sms")
        assert chain["steps"][0] == {"after": 0, "channel": "board", "to": "duty_officer"}
    assert first_sms["I"] < first_sms["II"] < first_sms["III"] < first_sms["IV"]
    assert escalation.chain_for(plan, None)["level"] == "ungraded"
    assert (plan.delivery.max_sms, plan.delivery.max_calls, plan.delivery.window) == (5, 3, timedelta(minutes=15))


def test_the_schedule_repeats_the_chain_every_round():
    chain = escalation.chain_for(load_plan_text(DEFAULT_TEXT), "I")
    assert escalation.step_count(chain) == 15
    times = [(escalation.step_at(chain, T0, n) - T0) / timedelta(minutes=1) for n in range(escalation.step_count(chain))]
    assert times == [0, 2, 5, 10, 15, 20, 22, 25, 30, 35, 40, 42, 45, 50, 55]
    assert escalation.step_of(chain, 6) == {"after": 120, "channel": "sms", "to": "duty_officer", "round": 2,
                                            "index": 1}


def test_editing_the_plan_does_not_change_a_frozen_chain():
    plan = load_plan_text(DEFAULT_TEXT)
    frozen = escalation.chain_for(plan, "I")
    edited = load_plan_text(DEFAULT_TEXT.replace("      - {after: PT2M, channel: sms, to: duty_officer}",
                                                 "      - {after: PT4M, channel: sms, to: duty_officer}"))
    assert escalation.chain_for(edited, "I")["steps"][1]["after"] == 240
    assert frozen["steps"][1]["after"] == 120


@pytest.mark.parametrize("old,new,words", [
    ("    repeat: 3\n    repeat_after: PT20M\n", "    repeat: 3\n", "repeat_after"),
    ("    repeat_after: PT20M\n", "    repeat_after: PT10M\n", "longer than the wait of the last step"),
    ("  max_sms: 5\n", "  max_sms: 0\n", "max_sms"),
    ("  retry_after: [PT30S, PT2M, PT5M]\n", "  retry_after: [soon]\n", "ISO 8601"),
    ("  throttle_window: PT15M\n", "  throttle_window: PT15M\n  burst: 3\n", "burst"),
])
def test_broken_escalation_and_delivery_rules_are_refused(old, new, words):
    assert DEFAULT_TEXT.count(old) >= 1
    assert words in issues_of(DEFAULT_TEXT.replace(old, new, 1))


def test_bundle_lists_items_within_two_segments_and_says_how_to_sign():
    text = bundle_text([("A12", "食物中毒处置"), ("D7", "局报告")])
    assert text.startswith("【应急】您有2项待签收") and "A12 食物中毒处置" in text and "D7 局报告" in text
    assert "回复签收码签收" in text
    many = bundle_text([(f"A{i}", "某某县城关镇某某学校食堂疑似食物中毒") for i in range(30)])
    assert ucs2_units(many) <= MAX_UNITS and "30项" in many and "回复签收码签收" in many


def test_handled_notice_names_the_item_and_who_signed():
    text = handled_text("A12", "某学校食堂疑似食物中毒", outcome="acknowledged", by="王值班（短信）")
    assert text == "【已处理】[A12]某学校食堂疑似食物中毒：已由王值班（短信）签收，无需再处理。"
    long = handled_text("D7", "很长的标题" * 40, outcome="stopped", reason="应急状态已结束")
    assert ucs2_units(long) <= MAX_UNITS and "应急状态已结束" in long


def test_a_call_reads_the_sms_without_the_reply_instruction():
    assert spoken("【应急Ⅰ级】X 标题：请食品科处置。回复K7QX签收[A12]") == "【应急Ⅰ级】X 标题：请食品科处置。"
