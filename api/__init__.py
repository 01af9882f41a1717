"""Herald's REST API (FastAPI): thin routers over services and repositories."""
