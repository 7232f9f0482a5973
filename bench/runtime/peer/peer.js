// AIChatAgent driven to the bench's turns without a model call, the way an app's own code
// writes to it: persistMessages() with the transcript plus the turn's messages (what the SDK
// itself calls after a model reply), reached per request with getAgentByName(), as the
// Agents docs show. Reads go through the SDK's own routes and state:
//   POST /peer/<name>/turn {messages}       persistMessages([...this.messages, ...messages])
//   GET  /peer/<name>/recent?limit=N        the last N of this.messages (the agent keeps the
//                                           transcript in memory, hydrated at start)
//   GET  /agents/chat-peer/<name>/get-messages  the SDK's transcript route (reads SQLite)
import { AIChatAgent } from "@cloudflare/ai-chat";
import { getAgentByName, routeAgentRequest } from "agents";

export class ChatPeer extends AIChatAgent {
  async onChatMessage() {
    throw new Error("the bench never asks for a model reply");
  }

  async appendTurn(messages) {
    await this.persistMessages([...this.messages, ...messages]);
    return { count: this.messages.length };
  }

  recent(limit) {
    return this.messages.slice(-limit);
  }
}

export default {
  async fetch(request, env) {
    const routed = await routeAgentRequest(request, env);
    if (routed !== null) return routed;
    const url = new URL(request.url);
    const [, kind, name, what] = url.pathname.split("/");
    if (kind !== "peer" || !name) return new Response("no such route", { status: 404 });
    const agent = await getAgentByName(env.ChatPeer, name);
    if (request.method === "POST" && what === "turn") {
      const { messages } = await request.json();
      return Response.json(await agent.appendTurn(messages), { status: 201 });
    }
    if (request.method === "GET" && what === "recent") {
      return Response.json(await agent.recent(Number(url.searchParams.get("limit") ?? 50)));
    }
    return new Response("no such route", { status: 404 });
  },
};
