"""analysis: the annual analysis's hand-written parts (conclusions, tasks for next year)

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import server.db.types


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('annual_analyses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('association_id', sa.Integer(), nullable=False),
    sa.Column('school_year', sa.Integer(), nullable=False),
    sa.Column('conclusions', sa.Text(), nullable=False),
    sa.Column('next_tasks', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', server.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['association_id'], ['associations.id'], name=op.f('fk_annual_analyses_association_id_associations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_annual_analyses_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annual_analyses')),
    sa.UniqueConstraint('association_id', 'school_year', name=op.f('uq_annual_analyses_association_id_school_year'))
    )


def downgrade() -> None:
    op.drop_table('annual_analyses')
