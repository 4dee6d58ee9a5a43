"""routing learns from corrections: labelled examples, the fitted routing model, service-type sets

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'routing_examples',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('task', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('weight', sa.Float(), nullable=False),
        sa.Column('finding_id', sa.String(length=64), nullable=True),
        sa.Column('topic_id', sa.String(length=16), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_routing_examples_task', 'routing_examples', ['task'], unique=False)
    op.create_index('ix_routing_examples_topic_id', 'routing_examples', ['topic_id'], unique=False)
    op.create_table(
        'routing_models',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('embedder', sa.String(length=200), nullable=False),
        sa.Column('trained_on', sa.Integer(), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'service_type_sets',
        sa.Column('interaction_id', sa.String(length=40), nullable=False),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.Column('probabilities', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('interaction_id'),
    )


def downgrade() -> None:
    op.drop_table('service_type_sets')
    op.drop_table('routing_models')
    op.drop_index('ix_routing_examples_topic_id', table_name='routing_examples')
    op.drop_index('ix_routing_examples_task', table_name='routing_examples')
    op.drop_table('routing_examples')
