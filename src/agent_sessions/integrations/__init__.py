"""Drop-in stores for agent frameworks, built on the Python client: `openai_agents` (an OpenAI
Agents SDK `Session`) and `langgraph` (a LangGraph checkpointer). Each imports its framework,
which agent-sessions itself never depends on: install the extra of the same name."""
