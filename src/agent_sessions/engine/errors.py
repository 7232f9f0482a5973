"""Typed errors of the engine.

Each carries a stable machine `code`, the HTTP `status` the API maps it to, and JSON-able
`details`, so that the same error can cross RPC (as a dict) and be rebuilt on the other side.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SessionError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    @staticmethod
    def from_dict(error: dict[str, Any]) -> SessionError:
        cls = _BY_CODE.get(error.get("code", ""), SessionError)
        return cls(str(error.get("message", "")), error.get("details"))


class InvalidInput(SessionError):
    code = "invalid"
    status = 422


class NotFound(SessionError):
    code = "not_found"
    status = 404


class AlreadyExists(SessionError):
    code = "already_exists"
    status = 409


class VersionConflict(SessionError):
    code = "version_conflict"
    status = 409


class DuplicateEntry(SessionError):
    code = "duplicate_entry"
    status = 409


class Fenced(SessionError):
    """A writer's claim was superseded, or its writer sequence is out of order."""

    code = "fenced"
    status = 409


class TooLarge(SessionError):
    code = "too_large"
    status = 413


class Unauthorized(SessionError):
    """No token, or one that maps to no tenant. Raised by the API, listed here so that every
    layer (engine, RPC, HTTP, client) shares one vocabulary of errors."""

    code = "unauthorized"
    status = 401


class Forbidden(SessionError):
    """The token's scope does not allow the operation (a read-only token writing)."""

    code = "forbidden"
    status = 403


class Malformed(SessionError):
    code = "malformed"
    status = 400


class RequestTimeout(SessionError):
    """The request body did not arrive in time (the local server's body read timeout)."""

    code = "timeout"
    status = 408


class UnsupportedMediaType(SessionError):
    """A body of a type the operation does not take (without tokens: anything but JSON)."""

    code = "unsupported_media_type"
    status = 415


class InsufficientStorage(SessionError):
    """The store cannot be written: the disk is full, read-only or failing (a Durable Object
    over its storage limit). The write was refused whole; reads still work."""

    code = "insufficient_storage"
    status = 507


class SchemaTooNew(SessionError):
    """The store was upgraded by a newer release than this one: refused, never downgraded.
    503: nothing was done, and the newer release can serve it."""

    code = "schema_too_new"
    status = 503


class Misconfigured(SessionError):
    """The deployment's settings cannot be used (a shard map naming a D1 binding that is not
    bound): every request says so, with the setting's name, until the settings are fixed.
    503: nothing was done."""

    code = "misconfigured"
    status = 503


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidInput,
        NotFound,
        AlreadyExists,
        VersionConflict,
        DuplicateEntry,
        Fenced,
        TooLarge,
        Unauthorized,
        Forbidden,
        Malformed,
        RequestTimeout,
        UnsupportedMediaType,
        InsufficientStorage,
        SchemaTooNew,
        Misconfigured,
    )
}
