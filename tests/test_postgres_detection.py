"""The suite's own PostgreSQL: a scratch database on the local server, or a clear skip where none answers."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from BackEnd.config import Settings
from tests.utils.server import free_port
from tests.utils.sql import LOCAL_POSTGRES, scratch_database


def _databases() -> set[str] | None:
    engine = create_engine(Settings(_env_file=None, database_url=LOCAL_POSTGRES).database_url)  # type: ignore[arg-type]
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT datname FROM pg_database")).scalars())
    except Exception:  # noqa: BLE001 - no local server: the case below says so
        return None
    finally:
        engine.dispose()


def test_no_server_answering_gives_none_so_the_postgresql_cases_skip() -> None:
    with scratch_database(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres") as url:
        assert url is None


def test_a_local_server_gives_a_fresh_database_that_is_dropped_at_the_end() -> None:
    before = _databases()
    if before is None:
        pytest.skip("no PostgreSQL answers on 127.0.0.1:5432 as user postgres")
    with scratch_database() as url:
        assert url is not None
        name = url.rsplit("/", 1)[1]
        assert name not in before and name in (_databases() or set())
    assert name not in (_databases() or set())
