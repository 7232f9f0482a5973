"""The conversation every system stores: ~1 KB messages from a fixed seed, two per turn."""

from __future__ import annotations

import random
from typing import Any

MESSAGE_BYTES = 1_000
SEED = 20261123
_VOCABULARY = (
    "the agent reads a file then calls a tool and summarises what it found for the user who "
    "asked about tokens context windows retries budgets branches and compaction"
)
_WORDS = _VOCABULARY.split()


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def message(rng: random.Random, index: int) -> dict[str, Any]:
    """One message as an agent framework holds it: role and content, ~MESSAGE_BYTES long."""
    role = "user" if index % 2 == 0 else "assistant"
    return {"role": role, "content": _text(rng, MESSAGE_BYTES)}


class Conversation:
    """Deterministic messages: the same run gives every system the same bytes."""

    def __init__(self, seed: int = SEED) -> None:
        self._rng = random.Random(seed)
        self._count = 0

    def take(self, n: int) -> list[dict[str, Any]]:
        made = [message(self._rng, self._count + i) for i in range(n)]
        self._count += n
        return made

    def turn(self) -> list[dict[str, Any]]:
        """A user message and the assistant's answer."""
        return self.take(2)
