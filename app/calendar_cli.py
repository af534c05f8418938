"""`flask --app wsgi calendar notice YEAR FILE` and `calendar show YEAR`: the year's holiday notice."""
from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.calendar import calendar_for, sources
from app.extensions import yingji
from app.jobs.holiday_watch import holiday_watch_soon
from incidents import complaints
from incidents.complaints import calendar_notices
from incidents.kernel.errors import DomainError
from incidents.models import User
from incidents.kernel.roles import ADMIN
from incidents.kernel.actors import SystemActor

calendar_cli = AppGroup("calendar", help="The working-day calendar and the holiday notices.")


def _actor(session, login: str | None):
    if login is None:
        # Whoever has a shell on the server stands for the administrator; the audit names the account.
        return SystemActor(name=f"cli:{getpass.getuser()}", role=ADMIN)
    user = session.scalar(select(User).where(User.login == login, User.active.is_(True)))
    if user is None:
        raise click.ClickException(f"没有启用的用户“{login}” / no active user '{login}'")
    return user


@calendar_cli.command("notice")
@click.argument("year", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", "login", default=None, help="Login of the office user entering it (default: this shell account).")
def calendar_notice(year: int, file: Path, login: str | None) -> None:
    """Enter the State Council's holiday notice of YEAR from FILE (YAML or JSON); see the README for the format."""
    wiring = yingji()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"无法读取文件 {file}：{exc}") from None
    with wiring.sessions() as session:
        try:
            raw = calendar_notices.read_file_text(text)
            entered = calendar_notices.enter_notice(session, wiring.plan, sources(), year=year, raw=raw,
                                                    actor=_actor(session, login), now=wiring.clock.now())
            session.commit()
        except DomainError as exc:
            session.rollback()
            problems = [zh for zh, _ in getattr(exc, "problems", [])]
            click.echo("未录入：放假通知有误" if problems else f"未录入：{exc.message_zh}", err=True)
            for problem in problems:
                click.echo(f"  - {problem}", err=True)
            sys.exit(1)
        click.echo(f"已录入{year}年放假通知（第{entered.row.id}号）：{entered.row.title}")
        click.echo(entered.description)
        click.echo(f"投诉举报办理时限重算：{len(entered.changes)}项")
        for change in entered.changes:
            click.echo(f"  - {complaints.change_dict(change)['summary']}（时限编号 {change.limit_id}）")
    holiday_watch_soon(wiring)


@calendar_cli.command("show")
@click.argument("year", type=int)
def calendar_show(year: int) -> None:
    """Show what the calendar says of YEAR: its holiday breaks, how sure, and from where."""
    wiring = yingji()
    with wiring.sessions() as session:
        try:
            view = calendar_notices.year_view(calendar_for(session, wiring.plan), year)
        except DomainError as exc:
            raise click.ClickException(exc.message_zh) from None
    click.echo(f"{year}年：{'已有放假通知' if view['certain'] else '无放假通知，按法定节假日推算（估算）'}")
    click.echo(f"来源：{view['source']}")
    for b in view["breaks"]:
        work = f"；调休上班 {', '.join(b['workdays'])}" if b["workdays"] else ""
        click.echo(f"  {b['name']}：{b['first_day']} 至 {b['last_day']}，共{b['days']}天{work}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(calendar_cli)
