"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VOC_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (research-only public data); tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="module")
def _fresh_fitted_embedders():
    """A test module that fitted the process's tfidf embedder (it keeps its first space for the process's life, as a
    nightly run relies on) must not hand that space to the next module's store: drop it after the module."""
    yield
    import sys

    embedders = sys.modules.get("voc.semantic.embedders")
    if embedders is not None:
        embedders.forget_fitted_embedders()


PG_URL = os.environ.get("VOC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'voc[postgres]')"
    try:
        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # any connection problem means: skip
        return f"no PostgreSQL server at {PG_URL} ({type(exc).__name__}: {str(exc).strip()[:120]})"


@pytest.fixture(scope="session")
def pg_server() -> str:
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    return PG_URL


@pytest.fixture()
def pg_schema(pg_server):
    """A fresh PostgreSQL schema for one test, dropped afterwards: yields (url, schema)."""
    import uuid

    import psycopg

    schema = f"voc_test_{uuid.uuid4().hex[:10]}"
    raw = pg_server.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_server, schema
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """A migrated Store on SQLite and on PostgreSQL (skipped cleanly without a server)."""
    from voc.store import Store

    if request.param == "sqlite":
        st = Store.open(f"sqlite:///{tmp_path / 'voc.db'}")
        yield st
        st.close()
    else:
        url, schema = request.getfixturevalue("pg_schema")
        st = Store.open(url, schema=schema)
        yield st
        st.close()
