"""Database: engine and session factory, column types, models."""
