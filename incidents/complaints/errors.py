"""The errors intake answers with: every wrong field at once, and too many submissions."""
from __future__ import annotations

from incidents.kernel.errors import InvalidInput


class InvalidComplaint(InvalidInput):
    """A submission with one or more fields wrong; `errors` maps each field to its Chinese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__("invalid_complaint", message if len(errors) == 1 else f"有{len(errors)}处需要修改：{message}",
                         f"{len(errors)} field(s) need correcting: {', '.join(errors)}", field=field)
        self.errors = errors

    def as_dict(self) -> dict:
        """Return the error with every field's message."""
        return {**super().as_dict(), "errors": dict(self.errors)}


class RateLimited(InvalidInput):
    """Too many requests from one address or phone; the web layer answers 429."""

    status = 429

    def __init__(self, retry_after: int, what: str) -> None:
        minutes = max(1, -(-retry_after // 60))
        when = f"{minutes}分钟" if minutes < 120 else f"{-(-minutes // 60)}小时"
        super().__init__("rate_limited", f"{what}提交过于频繁，请{when}后再试。已填写的内容不会丢失。",
                         f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after
