"""Ingest manifest: inbox text files already read (size, modification time, hash), skipped while unchanged

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ingest_files',
        sa.Column('path', sa.String(length=1024), nullable=False),
        sa.Column('scan_key', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('complete', sa.Boolean(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('path'),
    )


def downgrade() -> None:
    op.drop_table('ingest_files')
