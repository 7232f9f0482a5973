"""The sessions console: one page to browse, search and inspect sessions, served at /console
by the Worker and by the local server alike."""

from .page import PAGE

__all__ = ["PAGE"]
