"""The migrations build exactly the schema the models describe (on SQLite; Postgres is
migrated by every integration run)."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from herald.migrate import alembic_config, migrate


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'check.db'}"
    migrate(url)
    # Raises when autogenerate would find anything left to migrate.
    command.check(alembic_config(url))


def test_migrations_downgrade_to_nothing_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    migrate(url)
    command.downgrade(alembic_config(url), "base")
    migrate(url)
    command.check(alembic_config(url))
