"""The use cases, free of any transport: the per-session operations wherever a session
lives (`Sessions`), and what is built on them (fork, export and import, listing and search
from D1, tokens). The HTTP API and the gateway's RPC both call these."""
