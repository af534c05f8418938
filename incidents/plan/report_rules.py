"""The plan's rules for reports: who receives each kind, how, and how it goes out as an official document."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# How a report reaches a recipient when a person records it (政务内网, fax …).
RECORDED_CHANNELS = {"gov_intranet": "政务内网", "fax": "传真", "phone": "电话", "courier": "机要交通",
                     "email": "电子邮件", "in_person": "当面呈送"}
# How Yingji itself delivers: to this bureau (a station's report is in the bureau's own Yingji the moment it is
# filed), to another bureau's Yingji (signed, through its inbox), or by e-mail with the document attached.
INTERNAL, YINGJI, EMAIL = "internal", "yingji", "email"
AUTOMATIC_CHANNELS = {INTERNAL: "本系统", YINGJI: "应急指挥系统（局际）"}
DELIVERY_CHANNELS = {**RECORDED_CHANNELS, **AUTOMATIC_CHANNELS}
# Who may confirm or reject a backdated claim (补录): the leadership, or the office department's head.
CLAIM_CONFIRMERS = ("leader", "office_head")
# `local_government` stands for the township government of the event's station (plan §三(二)2: 当地政府).
LOCAL_GOVERNMENT = "local_government"


@dataclass(frozen=True)
class Recipient:
    """A body a report must reach (县政府, 市市场监督管理局 …) and how it is reached.

    `channel` yingji: through the Yingji of the bureau registered as `peer`; email: to `email`, the document
    attached (either falls back to a person recording another channel where it is not set up).
    """

    code: str
    name: str
    channel: str
    required: bool = True
    peer: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class DocumentRules:
    """How the bureau's reports go out as official documents (公文, GB/T 9704-2012)."""

    issuer_mark: str = ""  # 发文机关标志, e.g. 中牟县市场监督管理局
    abbreviation: str = ""  # 机关代字 of the document number, e.g. 中市监 → 中市监〔2026〕12号
    printer: str = ""  # 印发机关, e.g. 中牟县市场监督管理局办公室
    # Per report kind, who signs it off (签发) before it goes; a kind not named goes as it is filed.
    sign_off: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Per report kind, its title: {title} is the incident's title, {n} a progress report's number.
    titles: tuple[tuple[str, str], ...] = ()
    # Per report kind, its urgency mark (特急 / 加急); a kind not named goes without one.
    urgency: tuple[tuple[str, str], ...] = ()

    def urgency_of(self, kind: str) -> str | None:
        """Return the urgency mark a report kind carries, if any."""
        return dict(self.urgency).get(kind)

    def signers_of(self, kind: str) -> tuple[str, ...]:
        """Return the roles that sign off a report kind (none: it goes as filed)."""
        return dict(self.sign_off).get(kind, ())

    def title_of(self, kind: str) -> str:
        """Return the title pattern of a report kind."""
        return dict(self.titles).get(kind, "关于{title}的报告")


@dataclass(frozen=True)
class ReportRules:
    """The briefings and the reports' rules: classification, daily time, approvers, backdating, recipients."""

    classification: str = "内部资料　注意保管"
    daily_at: str = "08:00"  # HH:MM in the plan's time zone
    closing_approved_by: tuple[str, ...] = ("leader",)
    # A claimed time earlier than its entry by more than this is a backdated claim (补录).
    backdate_tolerance: timedelta = timedelta(minutes=10)
    claims_confirmed_by: tuple[str, ...] = CLAIM_CONFIRMERS
    # Per report kind, the recipients the plan names; a clock satisfied by such a report is met
    # when every required recipient has it.
    recipients: tuple[tuple[str, tuple[Recipient, ...]], ...] = ()
    # Per report kind, who else receives it when it skips a level (越级上报, plan §三(二)2(1)): the named
    # recipients still get it at the same time.
    skip_level: tuple[tuple[str, tuple[Recipient, ...]], ...] = ()
    documents: DocumentRules = DocumentRules()

    def recipients_of(self, kind: str) -> tuple[Recipient, ...]:
        """Return the recipients the plan names for a report kind (none: filing is enough)."""
        return dict(self.recipients).get(kind, ())

    def skip_level_of(self, kind: str) -> tuple[Recipient, ...]:
        """Return who also receives a report of this kind that skips a level (none: it may not skip)."""
        return dict(self.skip_level).get(kind, ())
