"""The Worker's main module: wrangler.toml points here, and workerd finds both classes on it."""

from agent_sessions.worker.gateway import Default
from agent_sessions.worker.session_object import SessionObject

__all__ = ["Default", "SessionObject"]
