"""An accountability record that holds up in a review: backdated claims (补录) and their review,
the recipients of each report, the command HQ of an event, decline approval and cancelled tasks,
which time judged a clock, and the unit that registered an event.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('command_hqs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('commander_id', sa.Integer(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('named_by_id', sa.Integer(), nullable=True),
    sa.Column('named_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['commander_id'], ['users.id'], name=op.f('fk_command_hqs_commander_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_command_hqs_incident_id_incidents')),
    sa.ForeignKeyConstraint(['named_by_id'], ['users.id'], name=op.f('fk_command_hqs_named_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_command_hqs'))
    )
    with op.batch_alter_table('command_hqs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_command_hqs_incident_id'), ['incident_id'], unique=False)

    op.create_table('report_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('delivered_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('backdated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('returned_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('returned_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_report_recipients_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_recipients_report_id_reports')),
    sa.ForeignKeyConstraint(['returned_by_id'], ['users.id'], name=op.f('fk_report_recipients_returned_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_recipients'))
    )
    with op.batch_alter_table('report_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_recipients_report_id'), ['report_id'], unique=False)

    op.create_table('claim_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('evidence_kind', sa.String(length=20), nullable=False),
    sa.Column('evidence_ref', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_claim_reviews_decided_by_id_users')),
    sa.ForeignKeyConstraint(['recipient_id'], ['report_recipients.id'], name=op.f('fk_claim_reviews_recipient_id_report_recipients')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_claim_reviews_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_reviews')),
    sa.UniqueConstraint('recipient_id', name=op.f('uq_claim_reviews_recipient_id')),
    sa.UniqueConstraint('report_id', name=op.f('uq_claim_reviews_report_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decline_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('decline_from', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('decline_decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decline_decided_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decline_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignments_decline_decided_by_id_users'), 'users', ['decline_decided_by_id'], ['id'])

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('judged_by', sa.String(length=10), nullable=True))

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_unit', sa.String(length=40), nullable=True))
    # Who registered the events already on file: the registrant's unit, else the office.
    op.execute("UPDATE incidents SET registered_unit = (SELECT users.unit FROM users "
               "WHERE users.id = incidents.created_by_id)")
    op.execute("UPDATE incidents SET registered_unit = 'office' WHERE registered_unit IS NULL")

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backdated', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    # The older code knows no closed events, pending declines or cancelled tasks.
    op.execute("UPDATE incidents SET status = 'withdrawn' WHERE status = 'closed'")
    op.execute("UPDATE assignments SET status = 'declined' WHERE status IN ('decline_requested', 'cancelled')")
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('backdated')

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('registered_unit')

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_column('judged_by')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignments_decline_decided_by_id_users'), type_='foreignkey')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('decline_note')
        batch_op.drop_column('decline_decided_at')
        batch_op.drop_column('decline_decided_by_id')
        batch_op.drop_column('decline_from')
        batch_op.drop_column('decline_status')

    op.drop_table('claim_reviews')
    with op.batch_alter_table('report_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_recipients_report_id'))

    op.drop_table('report_recipients')
    with op.batch_alter_table('command_hqs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_command_hqs_incident_id'))

    op.drop_table('command_hqs')
