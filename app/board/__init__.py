"""Browser pages: the incident board, the incident page, accountability."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("board", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

from app.board import pages  # noqa: E402,F401
