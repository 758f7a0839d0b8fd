"""Fresh PostgreSQL databases for end-to-end tests, created with psql on WEFT_TEST_POSTGRES_URL."""

from __future__ import annotations

import subprocess
import uuid
from urllib.parse import urlsplit


class PostgresDatabases:
    """Creates and drops one database per server on the cluster that `admin_url` points to."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _psql(self, sql: str) -> None:
        subprocess.run(
            ["psql", self.admin_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def create(self) -> tuple[str, str]:
        """Creates an empty database; returns (name, URL of it)."""
        name = f"weft_e2e_{uuid.uuid4().hex[:16]}"
        self._psql(f'CREATE DATABASE "{name}"')
        return name, urlsplit(self.admin_url)._replace(path=f"/{name}").geturl()

    def drop(self, name: str) -> None:
        """Drops the database, closing any connection left to it."""
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
