"""Shared fixtures: a real apiserver process, an in-process one, database backends, the
Docker engine; and the test tiers as markers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.harness import ApiServer, start_apiserver
from tests.inprocess import InProcessApi, inprocess_apiserver

PG_URL_ENV = "KUBELAB_TEST_PG_URL"  # e.g. postgresql://postgres@127.0.0.1:5432/postgres


def _pg_database() -> str:
    """A fresh PostgreSQL database for one test, or a skip (a failure in CI)."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        if os.environ.get("KUBELAB_REQUIRE_PG") == "1":
            pytest.fail(f"{PG_URL_ENV} is not set but KUBELAB_REQUIRE_PG=1")
        pytest.skip(f"PostgreSQL tests need {PG_URL_ENV} (.ci/run sets it)")
    import sqlalchemy as sa

    name = "kl_" + uuid.uuid4().hex[:12]
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    eng.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every async test runs on asyncio, as kubelab does (anyio would also try trio,
    which a test dependency, selenium, brings into the environment)."""
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both store backends: SQLite in the test's home, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return _pg_database()


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServer]:
    """A real apiserver over HTTPS on a free port, SQLite in a temporary home."""
    srv = start_apiserver(tmp_path / "home")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def apiserver_any_db(tmp_path: Path, db_url: str) -> Iterator[ApiServer]:
    """The apiserver on each backend in turn (SQLite, then PostgreSQL)."""
    srv = start_apiserver(tmp_path / "home", db=db_url)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shared_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One apiserver for a whole test module (faster when tests do not interfere)."""
    srv = start_apiserver(tmp_path_factory.mktemp("shared") / "home")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def inprocess_api(tmp_path: Path) -> AsyncIterator[InProcessApi]:
    """The apiserver's app in this process over httpx.ASGITransport (tests/inprocess.py);
    for tests marked anyio (``pytestmark = pytest.mark.anyio``)."""
    async with inprocess_apiserver(tmp_path / "home") as api:
        yield api


@pytest.fixture
async def inprocess_api_any_db(tmp_path: Path, db_url: str) -> AsyncIterator[InProcessApi]:
    """The in-process apiserver on each store backend in turn (SQLite, then PostgreSQL)."""
    async with inprocess_apiserver(tmp_path / "home", db_url=db_url) as api:
        yield api


def docker_reachable() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip a Docker test when no engine is reachable; fail instead when CI requires it."""
    if docker_reachable():
        return
    if os.environ.get("KUBELAB_REQUIRE_DOCKER") == "1":
        pytest.fail(
            "the Docker engine is not reachable but KUBELAB_REQUIRE_DOCKER=1 (.ci/docker.sh starts it)"
        )
    pytest.skip("no Docker engine reachable (run .ci/docker.sh)")


# Test tiers, one folder each: the folder marks its tests (`-m unit`, `-m "not e2e"`).
TIERS = ("unit", "integration", "e2e", "compat", "chaos", "browser")
TESTS_DIR = Path(__file__).resolve().parent


def tier_of(path: Path) -> str | None:
    """The tier of a test file: the folder under tests/ it is in (None outside the tiers)."""
    try:
        parts = path.resolve().relative_to(TESTS_DIR).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item.path)
        if tier is not None and item.get_closest_marker(tier) is None:
            item.add_marker(tier)
        fixtures = getattr(item, "fixturenames", [])
        if "inprocess_api" in fixtures or "inprocess_api_any_db" in fixtures:
            item.add_marker("inprocess")
        if item.get_closest_marker("docker") and "docker_engine" not in getattr(
            item, "fixturenames", []
        ):
            item.fixturenames.append("docker_engine")  # type: ignore[attr-defined]
