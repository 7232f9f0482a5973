/**
 * The RPC surface of the agent-sessions Worker's default entrypoint (`Default`), for another
 * Worker that binds it as a service:
 *
 *   [[services]]
 *   binding = "SESSIONS"
 *   service = "agent-sessions"
 *
 *   const made = await env.SESSIONS.create_session("acme", { id: "s1", user_id: "ada" });
 *   if ("error" in made) throw new Error(made.error.message);
 *
 * Every method takes the tenant first: a service binding is trusted code, so it names its
 * tenant itself (HTTP callers get theirs from a token). Results are envelopes, never thrown
 * errors, so their codes survive the RPC boundary. The shapes are the HTTP API's (api.d.ts,
 * generated from its OpenAPI document). tests/test_operations.py keeps the methods and their
 * parameters equal to the gateway's and to the operations table (engine/operations.py).
 */
import type { components } from "./api";

export type Schemas = components["schemas"];
export type RpcResult<T> = { ok: T } | { error: Schemas["ErrorDetail"] };

type Fields<T> = Partial<T>;

export interface AgentSessionsRpc {
  create_session(tenant: string, fields: Fields<Schemas["SessionCreate"]>): Promise<RpcResult<Schemas["Session"]>>;
  get_session(tenant: string, sessionId: string): Promise<RpcResult<Schemas["Session"]>>;
  update_session(
    tenant: string,
    sessionId: string,
    changes: Fields<Schemas["SessionUpdate"]>,
    expectedVersion?: number | null,
  ): Promise<RpcResult<Schemas["Session"]>>;
  delete_session(tenant: string, sessionId: string): Promise<RpcResult<Schemas["Deleted"]>>;
  save_data(
    tenant: string,
    sessionId: string,
    data: unknown,
    expectedVersion?: number | null,
  ): Promise<RpcResult<Schemas["SessionData"]>>;
  load_data(tenant: string, sessionId: string): Promise<RpcResult<Schemas["SessionData"]>>;
  append(
    tenant: string,
    sessionId: string,
    entries: Schemas["EntryIn"][],
    expectedVersion?: number | null,
    writer?: Schemas["WriterSeq"] | null,
  ): Promise<RpcResult<Schemas["AppendResult"]>>;
  claim_writer(tenant: string, sessionId: string, writerId: string): Promise<RpcResult<Schemas["Writer"]>>;
  get_writer(tenant: string, sessionId: string): Promise<RpcResult<Schemas["Writer"]>>;
  read_entries(
    tenant: string,
    sessionId: string,
    query?: {
      after_seq?: number;
      before_seq?: number | null;
      types?: Schemas["Entry"]["type"][] | null;
      limit?: number;
      order?: "asc" | "desc";
      /** "prefix": large entries as their rows keep them, with `blob` saying what is left out. */
      large?: "whole" | "prefix";
    },
  ): Promise<RpcResult<Schemas["EntryPage"]>>;
  list_sessions(
    tenant: string,
    filters?: {
      user_id?: string;
      agent_name?: string;
      status?: Schemas["Session"]["status"];
      updated_since?: number;
      updated_before?: number;
      limit?: number;
      cursor?: string;
      /** How fresh (README: "Reads that scale"): a bookmark a read or mirror_status answered,
       * or "first-primary"; absent: any copy of D1. The page answers the next `bookmark`. */
      bookmark?: string;
    },
  ): Promise<RpcResult<Schemas["SessionPage"]>>;
  search_entries(
    tenant: string,
    query: string,
    limit?: number,
    /** bookmark: as for list_sessions. */
    options?: { bookmark?: string },
  ): Promise<RpcResult<Schemas["SearchPage"]>>;
  /** Moving a tenant to another D1 database (README: "Moving a tenant"), step 1: a page of its
   * sessions resync into the new one; call again with `next` until it is null. */
  copy_tenant(tenant: string, after?: string | null): Promise<RpcResult<{ tenant: string; to: string; resynced: number; next: string | null }>>;
  /** Step 1's end: the sessions of a page whose rows in the new database are not yet equal. */
  check_tenant(tenant: string, after?: string | null): Promise<RpcResult<{ tenant: string; to: string; checked: number; behind: string[]; next: string | null }>>;
  /** Step 3, once TENANT_SHARDS places the tenant on the new database: clear the old one. */
  clear_tenant(tenant: string, binding: string): Promise<RpcResult<{ tenant: string; cleared: string }>>;
  /** The session as JSON Lines (format agent-sessions.v1): the session line, then entries. */
  export_session(tenant: string, sessionId: string): Promise<RpcResult<string>>;
  import_session(tenant: string, jsonl: string, sessionId?: string | null): Promise<RpcResult<Schemas["Session"]>>;
  fork_session(
    tenant: string,
    sessionId: string,
    request?: Fields<Schemas["ForkRequest"]>,
  ): Promise<RpcResult<Schemas["Session"]>>;
  set_leaf(
    tenant: string,
    sessionId: string,
    entryId: string,
    expectedVersion?: number | null,
  ): Promise<RpcResult<Schemas["Session"]>>;
  replace_history(
    tenant: string,
    sessionId: string,
    fromSeq: number,
    entries: Schemas["EntryIn"][],
    expectedVersion?: number | null,
  ): Promise<RpcResult<Schemas["Replaced"]>>;
  read_context(
    tenant: string,
    sessionId: string,
    large?: "whole" | "prefix",
  ): Promise<RpcResult<Schemas["Context"]>>;
  prune(
    tenant: string,
    sessionId: string,
    beforeSeq: number,
    expectedVersion?: number | null,
  ): Promise<RpcResult<Schemas["Pruned"]>>;
  mirror_status(tenant: string, sessionId: string): Promise<RpcResult<Schemas["MirrorStatus"]>>;
  verify_mirror(tenant: string, sessionId: string): Promise<RpcResult<Schemas["ParityReport"]>>;
  resync_mirror(tenant: string, sessionId: string): Promise<RpcResult<Schemas["Resync"]>>;
}
