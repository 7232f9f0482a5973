"""A LangGraph checkpointer kept in agent-sessions.

    from agent_sessions.client import Client
    from agent_sessions.integrations.langgraph import AgentSessionsSaver

    saver = AgentSessionsSaver(Client("http://127.0.0.1:8787", token=...))
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"messages": [("user", "hi")]}, {"configurable": {"thread_id": "t-1"}})

Each thread is a session; checkpoints, channel values and pending writes are its entries
(`records`), read back by one scan of the log (`reading`). It passes LangGraph's conformance
suite for every capability it has: put, put_writes, get_tuple, list, delete_thread,
copy_thread (a fork of the session) and prune; not delete_for_runs, which would have to read
every thread of the tenant.
"""

from .reading import MissingValue
from .saver import AgentSessionsSaver

__all__ = ["AgentSessionsSaver", "MissingValue"]
