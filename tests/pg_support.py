"""A database of its own on the suite's throwaway PostgreSQL server (tests/conftest.py
`postgres_url`), for tests that run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid


def new_database(server: str) -> str:
    """Create an empty database on `server` (a postgresql:// URL) and return its URL."""
    import psycopg  # only where PostgreSQL is used: SQLite cases need no driver

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"
