"""Reports as official documents (numbers, sign-off, frozen PDF) and bureaus reporting to each other.

Adds the document counters and the frozen documents, the peers (other bureaus' Yingji and their public
keys), the dispatch queue (what goes to a peer or by e-mail, retried until delivered), the inbound
reports with their 签收, the links from a local incident to another bureau's, and the nonces of signed
requests; a report's sign-off and 越级上报 reason; a recipient's skip mark, receipt and remote reference.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:34:30
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_counters',
    sa.Column('issuer', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('issuer', 'year', name=op.f('pk_document_counters'))
    )
    op.create_table('peer_nonces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_nonces')),
    sa.UniqueConstraint('sender', 'nonce', name=op.f('uq_peer_nonces_sender'))
    )
    with op.batch_alter_table('peer_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_peer_nonces_seen_at'), ['seen_at'], unique=False)

    op.create_table('peers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=True),
    sa.Column('key_id', sa.String(length=80), nullable=True),
    sa.Column('public_key', sa.String(length=200), nullable=True),
    sa.Column('added_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peers')),
    sa.UniqueConstraint('code', name=op.f('uq_peers_code'))
    )
    op.create_table('inbound_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=40), nullable=False),
    sa.Column('report_uid', sa.String(length=80), nullable=False),
    sa.Column('recipient_code', sa.String(length=40), nullable=False),
    sa.Column('sender_incident_id', sa.Integer(), nullable=False),
    sa.Column('sender_incident_number', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('document_number', sa.String(length=40), nullable=True),
    sa.Column('skip_level', sa.Boolean(), nullable=False),
    sa.Column('sent_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('receipt_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('receipt_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_inbound_reports_incident_id_incidents')),
    sa.ForeignKeyConstraint(['receipt_by_id'], ['users.id'], name=op.f('fk_inbound_reports_receipt_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_reports')),
    sa.UniqueConstraint('sender', 'report_uid', name=op.f('uq_inbound_reports_sender'))
    )
    with op.batch_alter_table('inbound_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_reports_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('peer', sa.String(length=40), nullable=False),
    sa.Column('remote_incident_id', sa.Integer(), nullable=False),
    sa.Column('remote_number', sa.String(length=40), nullable=False),
    sa.Column('created_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_links_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_links')),
    sa.UniqueConstraint('peer', 'remote_incident_id', name=op.f('uq_incident_links_peer'))
    )
    with op.batch_alter_table('incident_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_links_incident_id'), ['incident_id'], unique=False)

    op.create_table('report_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=True),
    sa.Column('signer_name', sa.String(length=80), nullable=True),
    sa.Column('signed_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_documents_report_id_reports')),
    sa.ForeignKeyConstraint(['signer_id'], ['users.id'], name=op.f('fk_report_documents_signer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_documents')),
    sa.UniqueConstraint('issuer', 'year', 'seq', name=op.f('uq_report_documents_issuer')),
    sa.UniqueConstraint('report_id', name=op.f('uq_report_documents_report_id'))
    )
    op.create_table('dispatches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('inbound_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_reports.id'], name=op.f('fk_dispatches_inbound_id_inbound_reports')),
    sa.ForeignKeyConstraint(['recipient_id'], ['report_recipients.id'], name=op.f('fk_dispatches_recipient_id_report_recipients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatches'))
    )
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.create_index('ix_dispatches_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispatches_inbound_id'), ['inbound_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispatches_recipient_id'), ['recipient_id'], unique=False)

    with op.batch_alter_table('report_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skip_level', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('receipt_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('receipt_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('remote_ref', sa.String(length=200), nullable=True))

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skip_level_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('signed_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('signed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_reports_signed_by_id_users'), 'users', ['signed_by_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reports_signed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('signed_by_id')
        batch_op.drop_column('signed_at')
        batch_op.drop_column('skip_level_reason')

    with op.batch_alter_table('report_recipients', schema=None) as batch_op:
        batch_op.drop_column('remote_ref')
        batch_op.drop_column('receipt_by')
        batch_op.drop_column('receipt_at')
        batch_op.drop_column('skip_level')

    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatches_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_dispatches_inbound_id'))
        batch_op.drop_index('ix_dispatches_due')

    op.drop_table('dispatches')
    op.drop_table('report_documents')
    with op.batch_alter_table('incident_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_links_incident_id'))

    op.drop_table('incident_links')
    with op.batch_alter_table('inbound_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_reports_incident_id'))

    op.drop_table('inbound_reports')
    op.drop_table('peers')
    with op.batch_alter_table('peer_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_peer_nonces_seen_at'))

    op.drop_table('peer_nonces')
    op.drop_table('document_counters')
