"""12315 complaints and tip-offs, their working-day limits, rate counters, surges, consumer warnings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_buckets',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('window_start', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_buckets'))
    )
    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tracking_no', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('suggested_department', sa.String(length=40), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=True),
    sa.Column('triaged_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('triaged_by_id', sa.Integer(), nullable=True),
    sa.Column('triage_note', sa.Text(), nullable=True),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('business_name', sa.String(length=200), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=False),
    sa.Column('business_address', sa.String(length=300), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('area', sa.String(length=40), nullable=True),
    sa.Column('purchased_on', sa.Date(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2, asdecimal=False), nullable=True),
    sa.Column('order_no', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('demand', sa.String(length=20), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('received_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('mediation_started_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('chained_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('erased_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_complaints_handled_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_complaints_incident_id_incidents')),
    sa.ForeignKeyConstraint(['triaged_by_id'], ['users.id'], name=op.f('fk_complaints_triaged_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('tracking_no', name=op.f('uq_complaints_tracking_no'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_area_received', ['area', 'received_at'], unique=False)
        batch_op.create_index('ix_complaints_business_received', ['business_key', 'received_at'], unique=False)
        batch_op.create_index('ix_complaints_category_received', ['category', 'received_at'], unique=False)
        batch_op.create_index('ix_complaints_department_status', ['department', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_complaints_received_at', ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_status'), ['status'], unique=False)
        batch_op.create_index('ix_complaints_unchained', ['id'], unique=False, sqlite_where=sa.text('chained_at IS NULL'), postgresql_where=sa.text('chained_at IS NULL'))

    op.create_table('surges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('window_seconds', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('peak', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('min_count', sa.Integer(), nullable=False),
    sa.Column('ratio', sa.Float(), nullable=False),
    sa.Column('opened_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_surges_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surges'))
    )
    with op.batch_alter_table('surges', schema=None) as batch_op:
        batch_op.create_index('ix_surges_key_ended', ['dimension', 'value', 'ended_at'], unique=False)
        batch_op.create_index('uq_surges_open', ['dimension', 'value'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('complaint_limits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('warn_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('estimated', sa.Boolean(), nullable=False),
    sa.Column('estimate_note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('satisfied_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('late_seconds', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('warned_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_limits_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_limits')),
    sa.UniqueConstraint('complaint_id', 'kind', name=op.f('uq_complaint_limits_complaint_id'))
    )
    with op.batch_alter_table('complaint_limits', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_limits_department', ['department', 'status'], unique=False)
        batch_op.create_index('ix_complaint_limits_running', ['status', 'due_at'], unique=False)

    op.create_table('consumer_warnings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('surge_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('drafted_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('edited_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('edited_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('published_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_consumer_warnings_decided_by_id_users')),
    sa.ForeignKeyConstraint(['edited_by_id'], ['users.id'], name=op.f('fk_consumer_warnings_edited_by_id_users')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_consumer_warnings_submitted_by_id_users')),
    sa.ForeignKeyConstraint(['surge_id'], ['surges.id'], name=op.f('fk_consumer_warnings_surge_id_surges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consumer_warnings')),
    sa.UniqueConstraint('surge_id', name=op.f('uq_consumer_warnings_surge_id'))
    )
    with op.batch_alter_table('consumer_warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consumer_warnings_published_at'), ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consumer_warnings_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('consumer_warnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consumer_warnings_status'))
        batch_op.drop_index(batch_op.f('ix_consumer_warnings_published_at'))

    op.drop_table('consumer_warnings')
    with op.batch_alter_table('complaint_limits', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_limits_running')
        batch_op.drop_index('ix_complaint_limits_department')

    op.drop_table('complaint_limits')
    with op.batch_alter_table('surges', schema=None) as batch_op:
        batch_op.drop_index('uq_surges_open', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_surges_key_ended')

    op.drop_table('surges')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_unchained', sqlite_where=sa.text('chained_at IS NULL'), postgresql_where=sa.text('chained_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_complaints_status'))
        batch_op.drop_index('ix_complaints_received_at')
        batch_op.drop_index(batch_op.f('ix_complaints_incident_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_finished_at'))
        batch_op.drop_index('ix_complaints_department_status')
        batch_op.drop_index('ix_complaints_category_received')
        batch_op.drop_index('ix_complaints_business_received')
        batch_op.drop_index('ix_complaints_area_received')

    op.drop_table('complaints')
    op.drop_table('rate_buckets')
