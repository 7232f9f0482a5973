"""An OpenAI Agents SDK `Session` kept in agent-sessions.

    from agents import Agent, Runner
    from agent_sessions.client import AsyncClient
    from agent_sessions.integrations.openai_agents import AgentSessionsSession

    client = AsyncClient("http://127.0.0.1:8787", token=...)
    session = AgentSessionsSession("support-42", client, user_id="ada", agent_name="triage")
    await Runner.run(agent, "Where is my order?", session=session)

It behaves as the SDK's own `SQLiteSession` wherever the SDK defines the behaviour (see
`AgentSessionsSession`); `items` says how an item is stored as an entry.
"""

from .session import AgentSessionsSession

__all__ = ["AgentSessionsSession"]
