"""The settlement read model in a real database: PostgreSQL, or SQLite as the embedded default."""
from certx.store.sql import Store, open_store

__all__ = ["Store", "open_store"]
