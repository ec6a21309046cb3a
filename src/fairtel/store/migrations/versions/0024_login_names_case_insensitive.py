"""Users: two logins never differ only in letter case ("Alice" and "alice"): a unique index on ``lower(username)``
(SQLite and PostgreSQL). Before, both could exist, and which one a login form reached depended on how the name was
typed.

A database may hold such pairs already. Which of them is the person's and which a mistake is not for the migration
to guess (each may have its own password, role, API keys and history in the audit), and merging or renaming one
would change what its user types to log in. So the migration refuses to run on them: it fails with
``LoginNameClashError`` (``login_name_clash``) naming every such group of logins, and changes nothing. The operator
keeps one name of each group (each other login removed from the database, its ``api_keys`` rows first, or given a
name of its own) and starts again.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fairtel.store._logins import LOGIN_KEY_INDEX, refuse_login_clashes

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    refuse_login_clashes(op.get_bind())
    op.create_index(LOGIN_KEY_INDEX, "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index(LOGIN_KEY_INDEX, table_name="users")
