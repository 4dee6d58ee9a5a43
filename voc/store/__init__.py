"""The voc store: SQLAlchemy 2 schema, Alembic migrations and a typed repository."""

from voc.store.db import Database, StoreError, current_revision, head_revision, migrate
from voc.store.repo import Store

__all__ = ["Database", "Store", "StoreError", "current_revision", "head_revision", "migrate"]
