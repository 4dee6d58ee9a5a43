"""Customer view kept across nights: each contact's copy with its repeat link, each customer's risk, the view's state;
item statuses indexed by update time

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'customer_contacts',
        sa.Column('interaction_id', sa.String(length=40), nullable=False),
        sa.Column('customer_key', sa.String(length=64), nullable=True),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('customer_id', sa.String(length=64), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('queue', sa.String(length=64), nullable=True),
        sa.Column('queue_key', sa.String(length=64), nullable=False),
        sa.Column('agent_id', sa.String(length=64), nullable=True),
        sa.Column('customer_tier', sa.String(length=32), nullable=True),
        sa.Column('customer_value', sa.Float(), nullable=True),
        sa.Column('service_type', sa.String(length=32), nullable=True),
        sa.Column('topic_id', sa.String(length=16), nullable=True),
        sa.Column('assigned_on', sa.Date(), nullable=True),
        sa.Column('call_score', sa.Float(), nullable=True),
        sa.Column('trajectory', sa.String(length=16), nullable=True),
        sa.Column('escalation', sa.Boolean(), nullable=True),
        sa.Column('text_score', sa.Float(), nullable=True),
        sa.Column('qa_score', sa.Float(), nullable=True),
        sa.Column('review_status', sa.String(length=16), nullable=True),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('text_updated', sa.DateTime(timezone=True), nullable=True),
        sa.Column('text_attempts', sa.Integer(), nullable=True),
        sa.Column('transcribe_updated', sa.DateTime(timezone=True), nullable=True),
        sa.Column('transcribe_attempts', sa.Integer(), nullable=True),
        sa.Column('attributes', sa.JSON(), nullable=True),
        sa.Column('excerpt', sa.Text(), nullable=False),
        sa.Column('repeat_of', sa.String(length=40), nullable=True),
        sa.Column('repeat_days', sa.Integer(), nullable=True),
        sa.Column('repeat_match', sa.Text(), nullable=True),
        sa.Column('fcr', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('interaction_id'),
    )
    op.create_index('ix_customer_contacts_customer', 'customer_contacts', ['customer_key', 'business_date'])
    op.create_index('ix_customer_contacts_counts', 'customer_contacts',
                    ['business_date', 'queue_key', 'agent_id', 'topic_id', 'service_type', 'fcr', 'customer_key'])
    op.create_index('ix_customer_contacts_assigned_on', 'customer_contacts', ['assigned_on'])
    op.create_index('ix_customer_contacts_review', 'customer_contacts', ['review_status'])
    op.create_index('ix_item_status_updated_at', 'item_status', ['updated_at'])
    op.create_table(
        'customer_risks',
        sa.Column('customer_key', sa.String(length=64), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('points', sa.Float(), nullable=False),
        sa.Column('risk', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('customer_key'),
    )
    op.create_index(op.f('ix_customer_risks_score'), 'customer_risks', ['score'])
    op.create_table(
        'customer_view_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source_key', sa.String(length=64), nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        sa.Column('until', sa.Date(), nullable=False),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('customer_view_state')
    op.drop_index(op.f('ix_customer_risks_score'), table_name='customer_risks')
    op.drop_table('customer_risks')
    op.drop_index('ix_item_status_updated_at', table_name='item_status')
    op.drop_index('ix_customer_contacts_review', table_name='customer_contacts')
    op.drop_index('ix_customer_contacts_assigned_on', table_name='customer_contacts')
    op.drop_index('ix_customer_contacts_counts', table_name='customer_contacts')
    op.drop_index('ix_customer_contacts_customer', table_name='customer_contacts')
    op.drop_table('customer_contacts')
