"""Temporal activities: the only code that touches the database, platforms and storage."""
