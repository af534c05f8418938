"""Closing reports and stored PDF briefings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('closing_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('handling', sa.Text(), nullable=False),
    sa.Column('aftermath', sa.Text(), nullable=False),
    sa.Column('lessons', sa.Text(), nullable=False),
    sa.Column('improvements', sa.Text(), nullable=False),
    sa.Column('investigators', sa.Text(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_closing_reports_decided_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_closing_reports_incident_id_incidents')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_closing_reports_report_id_reports')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_closing_reports_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closing_reports')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_closing_reports_incident_id'))
    )
    op.create_table('briefings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('job_key', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source_seq', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('generated_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('notified_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_briefings_incident_id_incidents')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_briefings_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefings')),
    sa.UniqueConstraint('job_key', name=op.f('uq_briefings_job_key'))
    )
    with op.batch_alter_table('briefings', schema=None) as batch_op:
        batch_op.create_index('ix_briefings_lookup', ['kind', 'incident_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefings_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefings_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('briefings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefings_status'))
        batch_op.drop_index(batch_op.f('ix_briefings_sha256'))
        batch_op.drop_index('ix_briefings_lookup')

    op.drop_table('briefings')
    op.drop_table('closing_reports')
