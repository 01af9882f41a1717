"""Alembic migrations; `herald migrate` applies them."""
