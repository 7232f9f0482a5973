"""One error shape for every failure: {"error": {"code", "message", "details"}}.

Malformed JSON is a 400, a well-formed body of the wrong shape a 422, and an engine error
keeps its own status. Only a real fault of the service is a 500, and it says nothing inside.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from ..engine import SessionError

log = logging.getLogger("agent_sessions")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _session_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SessionError)
    return error_response(exc.status, exc.code, exc.message, exc.details)


MAX_PROBLEMS = 20
"""Validation problems an error body lists; its message says how many there were in all."""
MAX_PROBLEM_TEXT = 200
"""Characters kept of a problem's message and of each part of its location (a key the caller
sent can be megabytes long)."""


def _short(part: Any) -> Any:
    if isinstance(part, str) and len(part) > MAX_PROBLEM_TEXT:
        return part[:MAX_PROBLEM_TEXT] + "..."
    return part


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One validation problem without the input it refused, which is never echoed."""
    return {
        "loc": [_short(part) for part in error.get("loc", ())],
        "msg": _short(error.get("msg", "")),
        "type": error.get("type", ""),
    }


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    problems = [_problem(e) for e in errors[:MAX_PROBLEMS]]
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed", "the request body is not valid JSON", problems)
    too_long = next((e for e in errors if e.get("type") == "too_long"), None)
    if too_long is not None:  # a list over its bound: a size limit, like the engine's 413s
        where = ".".join(str(part) for part in too_long.get("loc", ())[1:])
        limit = too_long.get("ctx", {}).get("max_length")
        return error_response(
            413,
            "too_large",
            f"{where} holds more than {limit} items",
            {"field": where, "limit": limit},
        )
    message = "the request does not match the schema"
    if len(errors) > MAX_PROBLEMS:
        message += f" ({len(errors)} problems; the first {MAX_PROBLEMS} are listed)"
    return error_response(422, "invalid", message, problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of one route; the path may have several routes.
        methods = {
            method
            for route in request.app.routes
            if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
            for method in route.methods or ()
        }
        response.headers["allow"] = ", ".join(sorted(methods))
    return response


def internal_error(exc: BaseException) -> JSONResponse:
    """A fault of the service: logged, and answered saying nothing of what it was."""
    log.exception("internal error", exc_info=exc)
    return error_response(500, "internal", "internal error")


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    return internal_error(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SessionError, _session_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
