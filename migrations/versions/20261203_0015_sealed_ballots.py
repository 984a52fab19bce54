"""secret ballots sealed until the close (sealed_ballots replaces secret_tallies; issue 15)

Revision ID: 0015_sealed
Revises: 0002
Create Date: 2026-12-03 08:00:00

A secret poll left open with ballots would lose them (their counters had no sealed form):
the upgrade refuses until such polls are closed with the previous version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_sealed'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    open_with_ballots = bind.execute(
        sa.text("SELECT count(*) FROM polls WHERE secret AND status = 'open' AND ballots > 0")
    ).scalar()
    if open_with_ballots:
        raise RuntimeError("close the open secret polls with the previous version before upgrading")
    op.create_table('sealed_ballots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('box', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_sealed_ballots_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_ballots'))
    )
    with op.batch_alter_table('sealed_ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sealed_ballots_poll_id'), ['poll_id'], unique=False)
    op.drop_table('secret_tallies')


def downgrade() -> None:
    op.create_table('secret_tallies',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('option', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_secret_tallies_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', 'option', name=op.f('pk_secret_tallies'))
    )
    with op.batch_alter_table('sealed_ballots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sealed_ballots_poll_id'))
    op.drop_table('sealed_ballots')
