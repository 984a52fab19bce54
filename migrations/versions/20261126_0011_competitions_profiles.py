"""Competitions (конкурсы, 3.5) and member profiles: calls, criteria, jurors, entries, scores;
profiles and professional-development courses.

Revision ID: 0011
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("entries_from", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("entries_until", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("judging_until", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("winners_count", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("results_published_at", server.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_competitions_association_id_associations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_competitions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["users.id"],
            name=op.f("fk_competitions_published_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitions")),
    )
    with op.batch_alter_table("competitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_competitions_association_id"), ["association_id"], unique=False)
    op.create_table(
        "profile_courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_profile_courses_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_courses")),
    )
    with op.batch_alter_table("profile_courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_profile_courses_user_id"), ["user_id"], unique=False)
    op.create_table(
        "competition_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["competition_id"],
            ["competitions.id"],
            name=op.f("fk_competition_criteria_competition_id_competitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competition_criteria")),
        sa.UniqueConstraint(
            "competition_id", "position", name=op.f("uq_competition_criteria_competition_id_position")
        ),
    )
    with op.batch_alter_table("competition_criteria", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_competition_criteria_competition_id"), ["competition_id"], unique=False
        )
    op.create_table(
        "competition_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("annotation", sa.Text(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.Column("certificate_number", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["competition_id"],
            ["competitions.id"],
            name=op.f("fk_competition_entries_competition_id_competitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_competition_entries_file_id_stored_files"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_competition_entries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competition_entries")),
        sa.UniqueConstraint("certificate_number", name=op.f("uq_competition_entries_certificate_number")),
        sa.UniqueConstraint(
            "competition_id", "user_id", name=op.f("uq_competition_entries_competition_id_user_id")
        ),
    )
    with op.batch_alter_table("competition_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_competition_entries_competition_id"), ["competition_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_competition_entries_user_id"), ["user_id"], unique=False)
    op.create_table(
        "competition_jurors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["competition_id"],
            ["competitions.id"],
            name=op.f("fk_competition_jurors_competition_id_competitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_competition_jurors_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competition_jurors")),
        sa.UniqueConstraint(
            "competition_id", "user_id", name=op.f("uq_competition_jurors_competition_id_user_id")
        ),
    )
    with op.batch_alter_table("competition_jurors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_competition_jurors_competition_id"), ["competition_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_competition_jurors_user_id"), ["user_id"], unique=False)
    op.create_table(
        "member_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subjects", sa.String(length=300), nullable=False),
        sa.Column("grades", sa.String(length=100), nullable=False),
        sa.Column("experience_years", sa.Integer(), nullable=True),
        sa.Column(
            "category",
            sa.Enum("none", "first", "highest", name="qualification_category", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("category_date", sa.Date(), nullable=True),
        sa.Column("photo_file_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["photo_file_id"],
            ["stored_files.id"],
            name=op.f("fk_member_profiles_photo_file_id_stored_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_member_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_member_profiles_user_id")),
    )
    op.create_table(
        "competition_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("juror_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scored_at", server.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["competition_criteria.id"],
            name=op.f("fk_competition_scores_criterion_id_competition_criteria"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["competition_entries.id"],
            name=op.f("fk_competition_scores_entry_id_competition_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["juror_id"], ["users.id"], name=op.f("fk_competition_scores_juror_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competition_scores")),
        sa.UniqueConstraint(
            "entry_id",
            "criterion_id",
            "juror_id",
            name=op.f("uq_competition_scores_entry_id_criterion_id_juror_id"),
        ),
    )
    with op.batch_alter_table("competition_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_competition_scores_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("competition_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competition_scores_entry_id"))
    op.drop_table("competition_scores")
    op.drop_table("member_profiles")
    with op.batch_alter_table("competition_jurors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competition_jurors_user_id"))
        batch_op.drop_index(batch_op.f("ix_competition_jurors_competition_id"))
    op.drop_table("competition_jurors")
    with op.batch_alter_table("competition_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competition_entries_user_id"))
        batch_op.drop_index(batch_op.f("ix_competition_entries_competition_id"))
    op.drop_table("competition_entries")
    with op.batch_alter_table("competition_criteria", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competition_criteria_competition_id"))
    op.drop_table("competition_criteria")
    with op.batch_alter_table("profile_courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_courses_user_id"))
    op.drop_table("profile_courses")
    with op.batch_alter_table("competitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competitions_association_id"))
    op.drop_table("competitions")
