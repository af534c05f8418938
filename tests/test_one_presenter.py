"""The incident page and the briefing PDF name things alike: both read one presenter."""
from __future__ import annotations

import re

from tests.helpers import file_report
from tests.test_board_pages import browser, page  # noqa: F401 - browser is a fixture
from tests.test_reports_api import ok, scenario
from tests.test_reports_pdf import flat, pdf_text

SECOND_PROGRESS = re.compile(r"[\u4e00-\u9fff]*续报[（(]第2次[）)]")
ROUND = re.compile(r"续报[（(]第2次[）)]")  # any spelling of the round, to catch a half-width one


def test_the_board_and_the_briefing_name_the_second_progress_report_alike(users, clock, browser):
    iid = scenario(users, clock)
    file_report(users["office"], iid, "progress", "第一次续报", signer=users["leader"])

    html = page(browser("leader"), f"/incidents/{iid}")
    on_board = set(SECOND_PROGRESS.findall(re.sub(r"<[^>]+>", "", html)))
    assert len(on_board) == 1, on_board
    pdf = flat(pdf_text(ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf")).data))
    name = on_board.pop()
    assert name == "应急处置情况续报（第2次）"
    # The PDF names it identically: the whole name is there, and no other spelling of the round.
    assert name in pdf
    assert set(ROUND.findall(pdf)) == set(ROUND.findall(name))
