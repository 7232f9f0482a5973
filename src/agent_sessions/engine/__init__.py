"""The storage engine: pure Python, synchronous, behind `SqlPort`.

It must run unchanged under CPython (sqlite3) and inside a Durable Object (ctx.storage.sql),
so it imports nothing from `js`, `workers` or `pydantic`.
"""

from .errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    SessionError,
    TooLarge,
    VersionConflict,
)
from .keys import SessionKey
from .ports import IntegrityViolation, SqlPort
from .sessions import SessionEngine

__all__ = [
    "AlreadyExists",
    "IntegrityViolation",
    "InvalidInput",
    "NotFound",
    "SessionEngine",
    "SessionError",
    "SessionKey",
    "SqlPort",
    "TooLarge",
    "VersionConflict",
]
