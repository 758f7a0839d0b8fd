"""Fixtures that run a real `weft serve` (the binary at $WEFT_BIN) for each test.

- `backend`: parametrized over `sqlite` (the embedded default) and `postgres` (a fresh database per
  server on $WEFT_TEST_POSTGRES_URL; skipped only when that variable is unset).
- `weft_factory(database_url=None)`: starts a server in a fresh temp data dir; every server it
  started is stopped (SIGTERM, then SIGKILL) after the test, and its log is printed if the test failed.
- `weft`: one server on the test's `backend`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from postgres_db import PostgresDatabases
from weft_http import Api
from weft_process import WeftServer

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Backend:
    """Where a server stores its data: `name` is `sqlite` or `postgres`."""

    name: str
    database_url: str | None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remembers each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def built_binary(name: str, variable: str) -> str:
    """The release binary `name` (or the path in environment `variable`); fails the test if absent."""
    binary = os.environ.get(variable) or str(REPO_ROOT / "target" / "release" / name)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{name} not found at {binary}: build it (cargo build --release) or set {variable}")
    return binary


@pytest.fixture(scope="session")
def weft_bin() -> str:
    return built_binary("weft", "WEFT_BIN")


@pytest.fixture(scope="session")
def loadtest_bin() -> str:
    return built_binary("weft-loadtest", "WEFT_LOADTEST_BIN")


@pytest.fixture(scope="session")
def postgres_databases() -> PostgresDatabases | None:
    url = os.environ.get("WEFT_TEST_POSTGRES_URL")
    return PostgresDatabases(url) if url else None


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, postgres_databases):
    if request.param == "sqlite":
        yield Backend("sqlite", None)
        return
    if postgres_databases is None:
        pytest.skip("WEFT_TEST_POSTGRES_URL is not set")
    name, url = postgres_databases.create()
    yield Backend("postgres", url)
    postgres_databases.drop(name)


@pytest.fixture
def weft_factory(request, weft_bin, tmp_path_factory):
    servers: list[WeftServer] = []

    def start(database_url: str | None = None) -> WeftServer:
        server = WeftServer(weft_bin, tmp_path_factory.mktemp("weft"), database_url)
        servers.append(server)
        server.start()
        return server

    yield start
    failed = any(
        getattr(getattr(request.node, f"report_{phase}", None), "failed", False)
        for phase in ("setup", "call")
    )
    for server in servers:
        code = server.stop()
        if failed:
            print(f"\n----- log of weft on {server.http_url} (exit {code}) -----\n{server.log()}")


@pytest.fixture
def weft(backend, weft_factory) -> WeftServer:
    # `backend` first: it is then torn down (database dropped) after the server has stopped.
    return weft_factory(backend.database_url)


@pytest.fixture
def api(weft) -> Api:
    """Plain-HTTP client for `weft`, authenticated as its bootstrap project."""
    return Api(weft.http_url, weft.auth)
