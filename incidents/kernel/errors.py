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


class Gone(DomainError):
    """What was here was removed on purpose (a retention rule), and will not come back."""

    status = 410


class Conflict(DomainError):
    """The incident is not in a state that allows this."""

    status = 409


class FieldErrors(InvalidInput):
    """Several fields wrong at once: every one is named, so a form is corrected in one pass."""

    def __init__(self, errors: list[DomainError]) -> None:
        shown = "；".join(e.message_zh for e in errors[:10])
        super().__init__("invalid_fields", f"请检查以下{len(errors)}项：{shown}",
                         "; ".join(e.message_en for e in errors[:10]), field=errors[0].field)
        self.errors = errors

    def as_dict(self) -> dict:
        return {**super().as_dict(), "errors": [e.as_dict() for e in self.errors]}


class Collect:
    """Run checks and keep the errors of each, then refuse once with all of them."""

    def __init__(self, prior: list[DomainError] | tuple = ()) -> None:
        self.errors: list[DomainError] = list(prior)

    def failed(self, field: str) -> bool:
        """Tell whether a field already has an error (its later checks would only repeat it)."""
        return any(e.field == field for e in self.errors)

    def check(self, fn, *args, **kwargs):
        """Return what the check returns, or None after keeping its error."""
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            self.errors.append(exc)
            return None

    def done(self) -> None:
        """Raise the one error, or all of them together; nothing if every check passed."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FieldErrors(self.errors)
