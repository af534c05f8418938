"""Errors the domain raises, each with a message in Chinese and in English."""
from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse; `status` is the HTTP status the web layer answers."""

    status = 400

    def __init__(self, code: str, message_zh: str, message_en: str, *, field: str | None = None) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field

    def as_dict(self) -> dict:
        """Return the error as the API's JSON error body."""
        out = {"code": self.code, "message": self.message_zh, "message_en": self.message_en}
        if self.field:
            out["field"] = self.field
        return out


class InvalidInput(DomainError):
    """A missing, malformed or impossible value."""

    status = 400


class Forbidden(DomainError):
    """The user's role or unit may not do this."""

    status = 403


class NotFound(DomainError):
    """No such thing, or none the user may see."""

    status = 404


class Conflict(DomainError):
    """The incident is not in a state that allows this."""

    status = 409
