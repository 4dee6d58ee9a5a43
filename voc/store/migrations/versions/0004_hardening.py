"""hardening: truncated-text flag, idempotent webhook deliveries, shared login throttle, site keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interactions') as batch:
        batch.add_column(sa.Column('text_truncated_from', sa.Integer(), nullable=True))
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('is_update', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=200), primary_key=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('strikes', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_login_throttle_updated_at', 'login_throttle', ['updated_at'], unique=False)
    op.create_table(
        'site_keys',
        sa.Column('name', sa.String(length=64), primary_key=True),
        sa.Column('value', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('site_keys')
    op.drop_index('ix_login_throttle_updated_at', table_name='login_throttle')
    op.drop_table('login_throttle')
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('is_update')
        batch.drop_column('content_hash')
    with op.batch_alter_table('interactions') as batch:
        batch.drop_column('text_truncated_from')
