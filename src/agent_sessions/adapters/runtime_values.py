"""What the Python Workers runtime does to values on their way into and out of SQLite.

Measured against workerd (tests/runtime/conformance.json, recorded from miniflare with values
converted by the real SDK in Pyodide): JavaScript has one number type, so every Python number
binds as a REAL; a DO stores a bool as the text 'true'/'false' while D1 stores 1/0; integers
from 2**53 - 1 up arrive as BigInt and cannot be bound; integral REALs read back as ints.
The sqlite3 adapter applies these rules in its runtime-faithful modes, so that value bugs show
up under CPython instead of in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.values import MAX_SAFE_INT as MAX_BIND

MAX_EXACT = 2**53
"""JavaScript numbers, and so stored integers read back, are exact up to here."""


@dataclass(frozen=True)
class ValueRules:
    """How one target converts bound parameters and the values it reads back."""

    name: str
    bool_true: Any
    bool_false: Any
    blob_out: str
    """'memoryview' (Durable Object) or 'list' (D1)."""

    def bind(self, value: Any) -> Any:
        # Checked by exact type first: text, NULL and ints are nearly every value bound.
        kind = type(value)
        if kind is str or value is None or isinstance(value, bytes):
            return value
        if isinstance(value, bool):
            return self.bool_true if value else self.bool_false
        if isinstance(value, int):
            if abs(value) > MAX_BIND:
                raise TypeError(f"{self.name}: cannot bind integer {value} (a BigInt in JS)")
            return float(value)
        if isinstance(value, float):
            return value
        if isinstance(value, list) and all(isinstance(b, int) for b in value):
            return bytes(value)
        raise TypeError(f"{self.name}: cannot bind {type(value).__name__}")

    def read(self, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT:
            return int(value)
        if isinstance(value, int) and abs(value) > MAX_EXACT:
            return float(value)
        if isinstance(value, bytes):
            return memoryview(value) if self.blob_out == "memoryview" else list(value)
        return value


DURABLE_OBJECT = ValueRules("durable_object", "true", "false", "memoryview")
D1 = ValueRules("d1", 1.0, 0.0, "list")
