"""Masks for phone numbers, ID numbers, bank cards and names, wherever they are shown or logged."""
from __future__ import annotations

import re

# Full-width digits (０１２…) and Ｘ, －, ＋ as typed with a Chinese input method: read as ASCII. Chinese
# punctuation (（）、，) stays as written.
_HALF_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "Ｘ": "X", "ｘ": "x", "－": "-",
                             "＋": "+"})
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
# Resident ID numbers: 18 characters with a birth date in them (any check character: a mistyped one is
# still someone's number) and the old 15-digit form (yymmdd); a long order number has no such date.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[1-8]\d{5}(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
                         r"(?![0-9A-Za-z])")
_ID15_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[1-8]\d{5}\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])")
# Bank cards: 16 to 19 digits passing the Luhn check, or written in groups of four as on the card.
_CARD_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:(\d{16,19})|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?![0-9A-Za-z])")
# Landlines: an area code (0 and 2-3 digits, maybe in brackets) and 7-8 digits: 0371-62100001, (0371)62100001.
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])([(（]?0\d{2,3}[)）]?)([-\s]?)(\d{3,4})(\d{4})(?!\d)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def mask_phone(phone: str | None) -> str:
    """Hide the middle of a phone number: 13812345678 -> 138****5678, +8613812345678 -> +86138****5678."""
    if not phone:
        return ""
    prefix, national = ("+86", phone[3:]) if phone.startswith("+86") else ("", phone)
    if len(national) <= 7:
        return prefix + "*" * max(len(national) - 2, 0) + national[-2:]
    return prefix + national[:3] + "****" + national[-4:]


def id_number_valid(number: str) -> bool:
    """Tell whether an 18-character resident ID number has the right check character (GB 11643)."""
    if not re.fullmatch(r"\d{17}[\dXx]", number or ""):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def mask_id_number(number: str) -> str:
    """Hide the middle of an ID number: 410122199001011234 -> 4101**********1234."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def luhn_valid(digits: str) -> bool:
    """Tell whether a digit string passes the Luhn check of bank card numbers."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _card(m: re.Match) -> str:
    together = m.group(1)
    return m.group(0) if together and not luhn_valid(together) else mask_card_number(m.group(0))


def mask_card_number(number: str) -> str:
    """Hide a bank card number but its first and last four digits: 6222021234567890123 -> 6222***********0123."""
    digits = re.sub(r"\D", "", number)
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def redact(text: str | None) -> str:
    """Mask mobile, landline, ID and bank card numbers written inside free text, for boards, events and logs."""
    if not text:
        return text or ""
    if any("\uff0b" <= c <= "\uff58" for c in text):
        text = text.translate(_HALF_WIDTH)
    text = _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _CARD_IN_TEXT.sub(_card, text)
    text = _ID15_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    return _LANDLINE_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}****{m.group(4)}", text)


def mask_name(name: str | None) -> str:
    """Keep the first character of a name: 张三丰 -> 张**."""
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 3) if len(name) > 1 else "*"


def mask_login(login: str | None) -> str:
    """Hide most of a login name that matched no user (it may be a mistyped password): a*** (6)."""
    if not login:
        return ""
    shown = login[:1] + "***"
    return f"{shown} ({len(login)})"
