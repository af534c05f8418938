"""The sender's back-off between attempts: 5 s doubling to 10 min, or what DISPATCH_RETRY_FIRST/MAX say."""
from __future__ import annotations

from datetime import timedelta

from app.config import from_environment
from incidents.response.sending import backoff


def test_the_default_back_off_doubles_from_five_seconds_to_ten_minutes():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(8) == backoff(50) == timedelta(minutes=10)


def test_the_settings_give_the_first_wait_and_the_longest():
    settings = from_environment({"DISPATCH_RETRY_FIRST": "0.5", "DISPATCH_RETRY_MAX": "2"})
    first = timedelta(seconds=settings["DISPATCH_RETRY_FIRST"])
    longest = timedelta(seconds=settings["DISPATCH_RETRY_MAX"])
    assert [backoff(n, first=first, longest=longest).total_seconds() for n in (1, 2, 3, 4, 30)] == [0.5, 1, 2, 2, 2]
    defaults = from_environment({})
    assert (defaults["DISPATCH_RETRY_FIRST"], defaults["DISPATCH_RETRY_MAX"]) == (5.0, 600.0)
