"""anonymous questionnaire responses sealed until the close (issue 15)

Revision ID: 0015_sealed_responses
Revises: 0009
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_sealed_responses'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('questionnaire_sealed',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('box', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaires.id'], name=op.f('fk_questionnaire_sealed_questionnaire_id_questionnaires'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_sealed')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('questionnaire_sealed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_sealed_questionnaire_id'), ['questionnaire_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('questionnaire_sealed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_sealed_questionnaire_id'))
    op.drop_table('questionnaire_sealed')
