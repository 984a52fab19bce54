"""transcription: the queue of speech awaiting transcription; the associations' switch defaults

Revision ID: 0016t
Revises: 0005
Create Date: 2026-12-03 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = "0016t"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcript_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("participant", sa.String(length=24), nullable=False),
        sa.Column("started_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", server.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_transcript_jobs_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_jobs")),
    )
    op.create_index("ix_transcript_jobs_status", "transcript_jobs", ["status", "id"], unique=False)
    op.create_index(op.f("ix_transcript_jobs_meeting_id"), "transcript_jobs", ["meeting_id"], unique=False)
    with op.batch_alter_table("associations") as batch:
        batch.add_column(sa.Column("transcription_default", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("recording_default", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("associations") as batch:
        batch.drop_column("recording_default")
        batch.drop_column("transcription_default")
    op.drop_index(op.f("ix_transcript_jobs_meeting_id"), table_name="transcript_jobs")
    op.drop_index("ix_transcript_jobs_status", table_name="transcript_jobs")
    op.drop_table("transcript_jobs")
