"""What an official document (公文) says, element by element, in the terms of GB/T 9704-2012."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Heading:
    """A structural heading of the body, numbered from its place: 一、 （一） 1. （1）.

    Level 1 is set in 黑体, level 2 in 楷体, levels 3 and 4 in 仿宋 (GB/T 9704 7.3.3). A heading
    whose text already starts with its number keeps it. `text` may run on in the body face after the
    heading on the same paragraph ("（一）加强组织领导。" followed by `text`), as levels 2-4 often do.
    """

    title: str
    level: int = 1
    text: str = ""

    def __post_init__(self) -> None:
        if self.level not in (1, 2, 3, 4):
            raise ValueError(f"heading level must be 1 to 4, not {self.level}")
        if not self.title.strip():
            raise ValueError("a heading needs a title")


def _tuple(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, Heading)):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class OfficialDocument:
    """A 公文 as GB/T 9704-2012 lays it out: 版头 (header), 主体 (body) and 版记 (imprint).

    Lists may be given as lists; they are kept as tuples. Empty optional text means "not shown".
    A `signer` makes the document an upward one (上行文): the document number goes left and
    签发人 right on one line. `sealed` leaves room for the seal (印章) over the signature and date
    (7.3.5.1); unsealed documents use 7.3.5.2.
    """

    issuer: str  # 发文机关, e.g. 中牟县市场监督管理局
    doc_number: str  # 发文字号, e.g. 中市监〔2026〕12号
    title: str  # 标题; a "\n" in it fixes where the lines break
    main_recipients: tuple[str, ...]  # 主送机关, joined with 、 and closed with a full-width colon
    body: tuple[str | Heading, ...]  # paragraphs (a "\n" in a string starts a new paragraph) and headings
    date: date  # 成文日期
    issuer_mark: str = ""  # 发文机关标志, e.g. "中牟县市场监督管理局文件"; default: the issuer
    issuer_signature: str = ""  # 发文机关署名; default: the issuer
    signer: str | None = None  # 签发人 (上行文)
    urgency: str | None = None  # 紧急程度: 特急, 加急
    classification: str | None = None  # 密级和保密期限, e.g. 秘密★1年
    copy_number: str | None = None  # 份号, six digits
    attachments: tuple[str, ...] = ()  # 附件说明: the attachments' names
    note: str | None = None  # 附注, e.g. 联系人：张三，电话：0371-62171234
    copy_to: tuple[str, ...] = ()  # 抄送机关
    printer: str = ""  # 印发机关, e.g. 中牟县市场监督管理局办公室; default: the issuer
    printed_on: date | None = None  # 印发日期; default: the date
    sealed: bool = True

    def __post_init__(self) -> None:
        for name in ("main_recipients", "body", "attachments", "copy_to"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))
        for name in ("issuer", "title"):
            if not getattr(self, name).strip():
                raise ValueError(f"an official document needs its {name}")
        if not any(isinstance(b, Heading) or b.strip() for b in self.body):
            raise ValueError("an official document needs a body (GB/T 9704: 公文首页必须显示正文)")
        if not isinstance(self.date, date):
            raise TypeError("date must be a datetime.date")

    @property
    def mark(self) -> str:
        """Return the 发文机关标志 as printed."""
        return self.issuer_mark or self.issuer

    @property
    def signature(self) -> str:
        """Return the 发文机关署名 as printed."""
        return self.issuer_signature or self.issuer

    @property
    def printed_by(self) -> str:
        """Return the 印发机关 as printed."""
        return self.printer or self.issuer

    @property
    def upward(self) -> bool:
        """Return whether this is an upward document (上行文), which names its 签发人."""
        return bool(self.signer and self.signer.strip())


def chinese_date(day: date) -> str:
    """Return a date as GB/T 9704 writes it: 2026年12月7日 (Arabic numerals, no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"
