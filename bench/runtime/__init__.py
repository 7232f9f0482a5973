"""The runtime bench (`python -m bench runtime`, issue 16): the Worker measured in real workerd
beside the systems a user could run instead, in one run, on one machine, from one loopback
client, each operation interleaved across systems so that the machine's load hits all alike.

Systems (systems.py): agent-sessions over HTTP and over RPC from a JavaScript Worker, the
Agents SDK's AIChatAgent (the peer), a JavaScript Durable Object running exactly the engine's
statements (the floor), and the engine under CPython (the local server) for reference.
"""
