"""topic assignments remember the night that made them

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('topic_assignments') as batch:
        batch.add_column(sa.Column('assigned_on', sa.Date(), nullable=True))
        batch.create_index(batch.f('ix_topic_assignments_assigned_on'), ['assigned_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('topic_assignments') as batch:
        batch.drop_index(batch.f('ix_topic_assignments_assigned_on'))
        batch.drop_column('assigned_on')
