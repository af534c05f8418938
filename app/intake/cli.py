"""`flask --app wsgi complaints ...`: run the 12315 jobs once, print the weekly summary."""
from __future__ import annotations

import json
from datetime import datetime, time

import click
from flask import Blueprint

from app.extensions import yingji
from app.jobs import complaints as complaint_jobs
from incidents import complaints


def register(bp: Blueprint) -> None:
    """Add the commands to the intake blueprint's `complaints` group."""

    @bp.cli.command("jobs")
    def run_jobs() -> None:
        """Run the intake digest, the surge watch, the limit notices and the housekeeping once, now."""
        wiring = yingji()
        click.echo(f"complaints chained into the audit trail: {complaint_jobs.intake_digest(wiring)}")
        result = complaint_jobs.surge_watch(wiring)
        click.echo(f"surges opened {result.opened}, still open {result.still_open}, ended {result.ended}; "
                   f"incidents proposed {result.proposed}, joined {result.linked}")
        click.echo(f"limit notices: {complaint_jobs.limit_notices(wiring)}")
        click.echo(f"housekeeping: {complaint_jobs.housekeeping(wiring)}")

    @bp.cli.command("summary")
    @click.option("--from", "start", default=None, help="First day, e.g. 2026-11-16 (default: last full week).")
    @click.option("--to", "end", default=None, help="The day after the last, e.g. 2026-11-23.")
    def summary(start: str | None, end: str | None) -> None:
        """Print the weekly complaint summary for the leadership briefing (JSON)."""
        wiring = yingji()
        plan, now = wiring.plan, wiring.clock.now()
        first, last = complaints.last_week(plan, now)
        zone = plan.tz
        if start and end:
            first = datetime.combine(datetime.strptime(start, "%Y-%m-%d").date(), time(0), zone)
            last = datetime.combine(datetime.strptime(end, "%Y-%m-%d").date(), time(0), zone)
        with wiring.sessions() as session:
            data = complaints.weekly_summary(session, plan, start=first, end=last, now=now)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
