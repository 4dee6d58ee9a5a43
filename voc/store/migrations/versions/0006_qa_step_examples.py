"""QA learns from reviewers: step decisions as labelled examples, fitted step models

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'qa_step_examples',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('script', sa.String(length=64), nullable=False),
        sa.Column('rule_id', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('said', sa.Boolean(), nullable=False),
        sa.Column('interaction_id', sa.String(length=64), nullable=True),
        sa.Column('idx', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('reviewer', sa.String(length=64), nullable=True),
        sa.Column('review_id', sa.Integer(), nullable=True),
        sa.Column('machine_verdict', sa.String(length=16), nullable=True),
        sa.Column('reviewer_passed', sa.Boolean(), nullable=True),
        sa.Column('superseded', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_qa_step_examples_script', 'qa_step_examples', ['script'], unique=False)
    op.create_index('ix_qa_step_examples_interaction_id', 'qa_step_examples', ['interaction_id'], unique=False)
    op.create_table(
        'qa_step_models',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('script', sa.String(length=64), nullable=False),
        sa.Column('signature', sa.String(length=64), nullable=False),
        sa.Column('embedder', sa.String(length=200), nullable=False),
        sa.Column('reviewer_examples', sa.Integer(), nullable=False),
        sa.Column('last_example_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_qa_step_models_script', 'qa_step_models', ['script'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_qa_step_models_script', table_name='qa_step_models')
    op.drop_table('qa_step_models')
    op.drop_index('ix_qa_step_examples_interaction_id', table_name='qa_step_examples')
    op.drop_index('ix_qa_step_examples_script', table_name='qa_step_examples')
    op.drop_table('qa_step_examples')
