"""Term-burst history counted once per day: complaints per business date and each topic term's document frequency

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'complaint_days',
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('docs', sa.Integer(), nullable=False),
        sa.Column('source_key', sa.String(length=64), nullable=False),
        sa.Column('counted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('business_date'),
    )
    op.create_table(
        'complaint_terms',
        sa.Column('term', sa.Text(), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('docs', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('term', 'business_date'),
    )
    op.create_index('ix_complaint_terms_date', 'complaint_terms', ['business_date'])


def downgrade() -> None:
    op.drop_index('ix_complaint_terms_date', table_name='complaint_terms')
    op.drop_table('complaint_terms')
    op.drop_table('complaint_days')
