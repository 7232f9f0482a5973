"""The per-session operations, declared once.

Every operation on one session is a method of the engine (or, for the mirror's, of the host)
taking the session's key and then these positional arguments. The table says what the rest of
the system needs to know about each, and everything that routes an operation is derived from
it: the host's dispatch (read or write, whether a write keeps an archived session archived,
whether a missing session is expected), the Durable Object's RPC methods, the `Sessions`
facade the use cases call, and the local store's file handling. The Python client's methods
and the TypeScript RPC types stay written out for their readers; tests hold them to this table.

`large`, a parameter of the reads that answer entries, is "whole" (the default) or "prefix"
(engine/large.py): the engine answers what the rows hold, and the host, beside the blob store,
fetches the large parts or leaves them out as it says.

Adding an operation: write it in the engine, declare it here; the tests say what else follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import InvalidInput


class Kind(Enum):
    READ = "read"
    """Changes nothing; an archived session it hydrates stays archived."""
    WRITE = "write"
    """One transaction, mirrored; the store's mirror drain runs after it."""
    MIRROR = "mirror"
    """About the session's D1 mirror, answered by the host (not the engine)."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    params: tuple[str, ...]
    """The arguments after the session's key, in the order every layer passes them."""
    kind: Kind
    creates: bool = False
    """It runs on a session the store does not hold, which it makes (or, for a resync, whose
    leftover D1 rows it purges): a missing session is no reason to look elsewhere."""
    keeps_archived: bool = False
    """A write that leaves an archived session archived (all other writes reactivate it)."""
    internal: bool = False
    """A step of a use case (fork), not offered to other Workers by the gateway's RPC."""

    @property
    def writes(self) -> bool:
        return self.kind is Kind.WRITE

    def bind(self, args: tuple[Any, ...], named: dict[str, Any] | None = None) -> tuple[Any, ...]:
        """The positional arguments of a call, in the table's order, from arguments given by
        position and by name. More than it takes, or a name it does not take, is refused;
        arguments left out at the end are left to the engine's defaults, and one left out
        before a given one is None."""
        named = named or {}
        unknown = sorted(set(named) - set(self.params))
        if unknown or len(args) > len(self.params):
            raise InvalidInput(
                f"{self.name} takes ({', '.join(self.params)})",
                {"operation": self.name, "unknown": unknown},
            )
        rest = self.params[len(args) :]
        last = max((i for i, name in enumerate(rest) if name in named), default=-1)
        return (*args, *(named.get(name) for name in rest[: last + 1]))


_DECLARED = (
    Operation("create_session", ("fields",), Kind.WRITE, creates=True),
    Operation("get_session", (), Kind.READ),
    Operation("update_session", ("changes", "expected_version"), Kind.WRITE),
    Operation("delete_session", (), Kind.WRITE),
    Operation("export_session", ("after_seq", "large"), Kind.READ),
    Operation("import_session", ("session", "entries"), Kind.WRITE, creates=True),
    Operation("save_data", ("data", "expected_version"), Kind.WRITE),
    Operation("load_data", (), Kind.READ),
    Operation("append", ("entries", "expected_version", "writer"), Kind.WRITE),
    Operation("claim_writer", ("writer_id",), Kind.WRITE),
    Operation("get_writer", (), Kind.READ),
    Operation(
        "read_entries", ("after_seq", "before_seq", "types", "limit", "order", "large"), Kind.READ
    ),
    Operation("find_entry", ("entry_id",), Kind.READ, internal=True),
    Operation("set_leaf", ("entry_id", "expected_version"), Kind.WRITE),
    Operation("read_context", ("large",), Kind.READ),
    Operation("prune", ("before_seq", "expected_version"), Kind.WRITE),
    Operation("replace_history", ("from_seq", "entries", "expected_version"), Kind.WRITE),
    Operation("adopt_entries", ("origin", "entries"), Kind.WRITE, creates=True, internal=True),
    Operation("mirror_status", (), Kind.MIRROR),
    Operation("verify_mirror", (), Kind.MIRROR),
    Operation("resync_mirror", (), Kind.WRITE, creates=True, keeps_archived=True),
)
OPERATIONS: dict[str, Operation] = {op.name: op for op in _DECLARED}
