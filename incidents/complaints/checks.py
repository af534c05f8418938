"""Small checks of what the public types: mobile numbers and unified social credit codes."""
from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# GB 32100-2015: 18 characters from this set (no I, O, Z, S, V); the last is a check character.
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalise_phone(raw: str) -> str | None:
    """Return an 11-digit mainland mobile number from what was typed (+86, spaces, dashes), or None."""
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", raw or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE.match(digits) else None


def credit_code_check_char(first17: str) -> str:
    """Return the check character of a unified social credit code's first 17 characters."""
    total = sum(CREDIT_CHARS.index(ch) * w for ch, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Say in Chinese what is wrong with a unified social credit code (统一社会信用代码), or None."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，当前为{len(code)}位"
    bad = sorted({ch for ch in code if ch not in CREDIT_CHARS})
    if bad:
        return f"统一社会信用代码含有不允许的字符“{''.join(bad)}”（不使用 I、O、Z、S、V）"
    if credit_code_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确，请核对营业执照上的代码"
    return None


def business_key(name: str) -> str:
    """Return the form of a business name that complaints about it share (width, case, spaces, punctuation)."""
    text = unicodedata.normalize("NFKC", name).lower()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PS"))[:200]
