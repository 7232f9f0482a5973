"""The cold tier: idle sessions move to object storage (R2) as gzipped snapshots, and come
back when used. See `tier.ColdTier` for the protocol and its crash safety."""

from .ports import ArchivePort
from .tier import ColdTier, archive_key

__all__ = ["ArchivePort", "ColdTier", "archive_key"]
