/**
 * Flue's own contract suite for `ConversationStreamStore`, run against agent-sessions through
 * the local server. Each test gets a fresh namespace, so the suite's fixed stream paths never
 * meet. The submission-authorization tests run only with a submission store; this adapter
 * has none (see the README), so they return early, as they do for any stream-only adapter.
 */
import { randomUUID } from "node:crypto";
import { defineConversationStreamStoreContractTests } from "@flue/runtime/test-utils/conversation-stream";
import { inject } from "vitest";
import { AgentSessionsConversationStreamStore } from "../src/index";

defineConversationStreamStoreContractTests("agent-sessions over HTTP", {
  async create() {
    const stream = new AgentSessionsConversationStreamStore({
      baseUrl: inject("agentSessionsUrl"),
      namespace: randomUUID(),
    });
    return { stream };
  },
});
