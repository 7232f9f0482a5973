"""A real LangGraph `StateGraph` with an offline model, checkpointed in agent-sessions: run
one phase per process (`python -m tests.langgraph_app URL THREAD start|resume`, the token in
$AGENT_SESSIONS_TOKEN), as a service
that stops between a question and its answer would. Prints the state it ends with as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt

from agent_sessions.client import Client
from agent_sessions.integrations.langgraph import AgentSessionsSaver


class CountingModel(BaseChatModel):
    """Answers with how many messages it was given: what it saw is in the transcript."""

    @property
    def _llm_type(self) -> str:
        return "counting"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        reply = AIMessage(content=f"I see {len(messages)} messages")
        return ChatResult(generations=[ChatGeneration(message=reply)])


class State(TypedDict, total=False):
    messages: Annotated[list[BaseMessage], add_messages]
    decision: str


MODEL = CountingModel()


def plan(state: State) -> State:
    return {"messages": [MODEL.invoke(state["messages"])]}


def review(state: State) -> State:
    return {"decision": interrupt({"question": "Book it?"})}


def book(state: State) -> State:
    note = HumanMessage(content=f"decision: {state['decision']}")
    return {"messages": [note, MODEL.invoke([*state["messages"], note])]}


def graph(url: str) -> Any:
    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("review", review)
    builder.add_node("book", book)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "review")
    builder.add_edge("review", "book")
    builder.add_edge("book", END)
    saver = AgentSessionsSaver(Client(url, os.environ.get("AGENT_SESSIONS_TOKEN")))
    return builder.compile(checkpointer=saver)


def main(url: str, thread: str, phase: str) -> None:
    app = graph(url)
    config = {"configurable": {"thread_id": thread, "user_id": "ada"}}
    if phase == "start":  # the blocking API
        state = app.invoke({"messages": [("user", "Plan my trip")]}, config)
    else:  # the async API, in another process
        state = asyncio.run(app.ainvoke(Command(resume="yes"), config))
    print(
        json.dumps(
            {
                "messages": [m.content for m in state["messages"]],
                "decision": state.get("decision"),
                "interrupted": "__interrupt__" in state,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
