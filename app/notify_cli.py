"""`flask --app wsgi notify test --phone +86...`: check the SMS and voice set-up by sending for real."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from sqlalchemy.exc import SQLAlchemyError

from app.extensions import yingji
from incidents import escalation
from incidents.people.users import PHONE
from notifiers.base import SMS, VOICE, Message, NotifierConfigError
from notifiers.registry import build, settings_from

notify_cli = AppGroup("notify", help="SMS and voice notifications.")
TEST_TEXT = {
    SMS: "【应急】应急指挥系统测试短信，无需处置。Yingji test SMS.",
    VOICE: "这是应急指挥系统的测试电话，无需处置。",
}


@notify_cli.command("test")
@click.option("--phone", required=True, help="Phone to send to, in international format, e.g. +8613800000000.")
def notify_test(phone: str) -> None:
    """Send a test SMS and a test call through the configured backends; print provider ids and statuses."""
    phone = phone.strip()
    if not PHONE.match(phone):
        raise click.ClickException("电话号码须为国际格式，如 +8613800000000 / "
                                   "phone must be in international format, e.g. +8613800000000")
    settings = settings_from(current_app.config)
    failed = []
    for kind in (SMS, VOICE):
        try:
            sender = build(kind, settings)
        except NotifierConfigError as exc:
            raise click.ClickException(str(exc)) from None
        result = sender.send(Message(to=phone, text=TEST_TEXT[kind], kind=kind, reference="notify-test"))
        _record(phone, kind, result)
        if result.ok:
            click.echo(f"{kind}: {result.provider} {result.provider_id} {result.status}")
        else:
            kind_zh = "短信" if kind == SMS else "电话"
            failed.append(f"{kind_zh}发送失败 / {kind} failed: {result.provider} error {result.error_code}: "
                          f"{result.error_message}{'（号码无效，不会重试 / permanent)' if result.permanent else ''}")
            click.echo(f"{kind}: {result.provider} FAILED {result.error_code}", err=True)
    if failed:
        raise click.ClickException("\n".join(failed))


def _record(phone: str, kind: str, result) -> None:
    """Keep the test message as a delivery row, so its status callbacks land somewhere and it shows."""
    wiring = yingji()
    try:
        with wiring.sessions() as session:
            escalation.record_test(session, phone=phone, channel=kind, content=TEST_TEXT[kind],
                                   result=escalation.Result(ok=result.ok, status=result.status if result.ok else None,
                                                            provider=result.provider, provider_id=result.provider_id,
                                                            error_code=result.error_code,
                                                            error_message=result.error_message,
                                                            permanent=result.permanent),
                                   now=wiring.clock.now())
            session.commit()
    except SQLAlchemyError as exc:  # an unmigrated database must not hide whether the message went
        click.echo(f"（未能记录发送记录 / not recorded: {type(exc).__name__}；请先运行 flask db upgrade）", err=True)


def init_app(app: Flask) -> None:
    """Register the `notify` commands."""
    app.cli.add_command(notify_cli)
