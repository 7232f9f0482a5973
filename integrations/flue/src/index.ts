/**
 * A Flue `ConversationStreamStore` on agent-sessions, over its HTTP API.
 *
 * Each Flue stream (a path such as `agents/echo/42`) is one agent-sessions session, so one
 * Durable Object: its id is derived from the path, and its metadata keeps the path, the
 * stream identity and the incarnation. Each appended batch is one atomic append of entries
 * (type `custom`, role `flue`) holding the batch's JSON: a small batch is one entry, a large
 * one is split into parts (each entry stays under the engine's 256 KiB limit, the batch under
 * its 4 MiB append limit). A batch's offset is `formatOffset(first seq - 1)`, so offsets are
 * ordered, opaque, and the first batch is at offset 0 as Flue expects.
 *
 * Producer fencing is agent-sessions' fenced writer: `acquireProducer` is a writer claim (the
 * epoch goes up, every earlier producer is fenced), and each append carries the producer's
 * (id, epoch, sequence); an exact retry of the last sequence returns the original offset.
 * Fold checkpoints live in the session's `data` blob (one per stream, replaced atomically).
 *
 * Not supported: submission-owned appends (records carrying `submissionId`/`attemptId`), which
 * need Flue's own submission store to authorize; a retry of a sequence older than the last.
 */
import {
  ConversationStreamStoreError,
  DEFAULT_READ_LIMIT,
  MAX_READ_LIMIT,
  StreamListenerRegistry,
  clampLimit,
  formatOffset,
  parseOffset,
} from "@flue/runtime/adapter";
import type {
  ConversationFoldCheckpoint,
  ConversationProducerClaim,
  ConversationRecord,
  ConversationStreamBatch,
  ConversationStreamIdentity,
  ConversationStreamMeta,
  ConversationStreamReadResult,
  ConversationStreamStore,
} from "@flue/runtime/adapter";
import { createHash, randomUUID } from "node:crypto";
import type { components } from "../../../clients/typescript/api";

type Schemas = components["schemas"];

export interface AgentSessionsStreamOptions {
  /** Where agent-sessions answers, e.g. `http://127.0.0.1:8787` or the Worker's URL. */
  baseUrl: string;
  /** A bearer token of the tenant to store streams under (none for `--no-auth`). */
  token?: string;
  /** Keeps several Flue apps apart inside one tenant: it is part of each session id. */
  namespace?: string;
  fetch?: typeof fetch;
}

/** Characters per entry: 60,000 UTF-16 units are at most 240 KB of UTF-8. */
const PART_LENGTH = 60_000;
const PAGE = 1000;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

interface StreamFacts {
  sessionId: string;
  identity: ConversationStreamIdentity;
  incarnation: string;
}

interface FlueMetadata {
  path: string;
  identity: ConversationStreamIdentity;
  incarnation: string;
}

interface Part {
  part: number;
  parts: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 40);
}

function canonical(identity: ConversationStreamIdentity): string {
  const entries = Object.entries(identity).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(Object.fromEntries(entries));
}

/** Split without separating a surrogate pair (a lone half does not survive UTF-8). */
function splitParts(data: string): string[] {
  const parts: string[] = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + PART_LENGTH, data.length);
    const last = data.charCodeAt(end - 1);
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end += 1;
    parts.push(data.slice(start, end));
    start = end;
  }
  return parts;
}

function partOf(entry: Schemas["Entry"]): Part {
  const flue = (entry.payload as { flue?: Part } | null)?.flue;
  if (!flue || !Number.isInteger(flue.part) || !Number.isInteger(flue.parts)) {
    throw new Error(`entry ${entry.seq} is not part of a Flue batch`);
  }
  return flue;
}

export class AgentSessionsConversationStreamStore implements ConversationStreamStore {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly namespace: string;
  private readonly fetcher: typeof fetch;
  private readonly listeners = new StreamListenerRegistry();
  private readonly facts = new Map<string, StreamFacts>();
  private readonly producerIds = new Map<string, string>();

  constructor(options: AgentSessionsStreamOptions) {
    this.base = options.baseUrl.replace(/\/$/, "");
    this.headers = { "content-type": "application/json" };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
    this.namespace = options.namespace ?? "";
    this.fetcher = options.fetch ?? fetch;
  }

  async createStream(path: string, identity: ConversationStreamIdentity): Promise<void> {
    const sessionId = this.sessionId(path);
    const flue: FlueMetadata = { path, identity, incarnation: randomUUID() };
    const body: Schemas["SessionCreate"] = {
      id: sessionId,
      agent_name: identity.agentName,
      title: path.slice(0, 1024),
      metadata: { flue },
    };
    try {
      await this.call("POST", "/v1/sessions", body);
      this.facts.set(path, { sessionId, identity, incarnation: flue.incarnation });
      return;
    } catch (error) {
      if (!(error instanceof HttpError && error.code === "already_exists")) throw error;
    }
    const existing = await this.streamFacts(path);
    if (!existing || canonical(existing.identity) !== canonical(identity)) {
      this.fail("create", path, "Stream identity conflicts.");
    }
  }

  async acquireProducer(path: string, producerId: string): Promise<ConversationProducerClaim> {
    const facts = await this.requireStream("acquire_producer", path);
    const claim = await this.call<Schemas["Writer"]>(
      "POST",
      this.route(facts, "/writer"),
      { writer_id: this.writerId(producerId) },
    );
    return {
      producerId,
      producerEpoch: claim.epoch,
      incarnation: facts.incarnation,
      nextProducerSequence: claim.next_seq,
      offset: await this.headOffset(facts),
    };
  }

  async append(input: {
    path: string;
    producerId: string;
    producerEpoch: number;
    incarnation: string;
    producerSequence: number;
    submission?: { submissionId: string; attemptId: string };
    records: readonly ConversationRecord[];
  }): Promise<{ offset: string }> {
    const { path } = input;
    if (input.records.length === 0) this.fail("append", path, "A canonical batch cannot be empty.");
    const owned = input.records.some(
      (r) => (r as { submissionId?: unknown }).submissionId !== undefined ||
        (r as { attemptId?: unknown }).attemptId !== undefined,
    );
    if (owned || input.submission) {
      this.fail(
        "append",
        path,
        "Submission-owned records need Flue's submission store to authorize them; " +
          "this adapter stores conversation streams only.",
      );
    }
    const facts = await this.requireStream("append", path);
    if (facts.incarnation !== input.incarnation) {
      this.fail("append", path, "Producer ownership is stale.");
    }
    const parts = splitParts(JSON.stringify(input.records));
    const body: Schemas["AppendRequest"] = {
      entries: parts.map((content, part) => ({
        type: "custom",
        role: "flue",
        content,
        payload: { flue: { part, parts: parts.length } },
      })),
      writer: {
        writer_id: this.writerId(input.producerId),
        epoch: input.producerEpoch,
        seq: input.producerSequence,
      },
    };
    let result: Schemas["AppendResult"];
    try {
      result = await this.call<Schemas["AppendResult"]>("POST", this.route(facts, "/entries"), body);
    } catch (error) {
      if (error instanceof HttpError && error.code === "fenced") {
        this.fail("append", path, `Producer ownership is stale or out of sequence: ${error.message}`);
      }
      if (error instanceof HttpError && error.status === 413) {
        this.fail("append", path, `The batch is larger than agent-sessions accepts: ${error.message}`);
      }
      throw error;
    }
    if (!result.replayed) this.listeners.notify(path);
    return { offset: formatOffset(result.first_seq - 1) };
  }

  async read(
    path: string,
    options?: { offset?: string; limit?: number },
  ): Promise<ConversationStreamReadResult> {
    const facts = await this.streamFacts(path);
    if (!facts) return { batches: [], nextOffset: "-1", upToDate: true };
    const raw = options?.offset ?? "-1";
    if (raw === "now") {
      return { batches: [], nextOffset: await this.headOffset(facts), upToDate: true };
    }
    const startAfter = parseOffset(raw);
    const head = await this.headOffset(facts);
    if (startAfter > parseOffset(head)) {
      this.fail("read", path, "Read offset is beyond the canonical stream head.");
    }
    const limit = clampLimit(options?.limit, DEFAULT_READ_LIMIT, MAX_READ_LIMIT);
    const batches: ConversationStreamBatch[] = [];
    let skip = startAfter >= 0; // the batch at `startAfter` itself is not returned
    for await (const group of this.groups(path, facts, Math.max(startAfter, 0))) {
      if (skip) {
        skip = false;
        if (group[0].seq === startAfter + 1) continue;
        this.fail("read", path, "Read offset is not the offset of a batch.");
      }
      batches.push(this.batch(group));
      if (batches.length === limit) break;
    }
    const nextOffset = batches.at(-1)?.offset ?? formatOffset(startAfter);
    return { batches, nextOffset, upToDate: nextOffset === head };
  }

  async getMeta(path: string): Promise<ConversationStreamMeta | null> {
    const facts = await this.streamFacts(path);
    if (!facts) return null;
    const writer = await this.call<Schemas["Writer"]>("GET", this.route(facts, "/writer"));
    return {
      identity: facts.identity,
      incarnation: facts.incarnation,
      nextOffset: await this.headOffset(facts),
      producerId: writer.writer_id === null
        ? null
        : (this.producerIds.get(writer.writer_id) ?? writer.writer_id),
      producerEpoch: writer.epoch,
      nextProducerSequence: writer.next_seq,
    };
  }

  subscribe(path: string, listener: () => void): () => void {
    return this.listeners.subscribe(path, listener);
  }

  async putFoldCheckpoint(path: string, checkpoint: ConversationFoldCheckpoint): Promise<void> {
    const facts = await this.requireStream("append", path);
    await this.call("PUT", this.route(facts, "/data"), { data: { flue_fold_checkpoint: checkpoint } });
  }

  async getFoldCheckpoint(
    path: string,
    options?: { atOrBefore?: string },
  ): Promise<ConversationFoldCheckpoint | null> {
    const facts = await this.streamFacts(path);
    if (!facts) return null;
    const saved = await this.call<Schemas["SessionData"]>("GET", this.route(facts, "/data"));
    const checkpoint = (saved.data as { flue_fold_checkpoint?: ConversationFoldCheckpoint } | null)
      ?.flue_fold_checkpoint;
    if (!checkpoint) return null;
    const bound = options?.atOrBefore;
    if (bound !== undefined && parseOffset(checkpoint.offset) > parseOffset(bound)) return null;
    return checkpoint;
  }

  // -- helpers ------------------------------------------------------------------------------

  private sessionId(path: string): string {
    return `flue-${sha(`${this.namespace}\u0000${path}`)}`;
  }

  /** Producer ids become writer ids; one that is not a valid id is hashed (and remembered). */
  private writerId(producerId: string): string {
    if (ID_PATTERN.test(producerId)) return producerId;
    const hashed = `p-${sha(producerId)}`;
    this.producerIds.set(hashed, producerId);
    return hashed;
  }

  private route(facts: StreamFacts, suffix: string): string {
    return `/v1/sessions/${facts.sessionId}${suffix}`;
  }

  /** Identity and incarnation never change once a stream exists, so they are cached. */
  private async streamFacts(path: string): Promise<StreamFacts | null> {
    const cached = this.facts.get(path);
    if (cached) return cached;
    const sessionId = this.sessionId(path);
    let session: Schemas["Session"];
    try {
      session = await this.call<Schemas["Session"]>("GET", `/v1/sessions/${sessionId}`);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return null;
      throw error;
    }
    const flue = (session.metadata as { flue?: FlueMetadata }).flue;
    if (!flue || flue.path !== path) {
      throw new Error(`session ${sessionId} is not the Flue stream ${path}`);
    }
    const facts = { sessionId, identity: flue.identity, incarnation: flue.incarnation };
    this.facts.set(path, facts);
    return facts;
  }

  private async requireStream(operation: string, path: string): Promise<StreamFacts> {
    const facts = await this.streamFacts(path);
    if (!facts) this.fail(operation, path, "Stream does not exist.");
    return facts;
  }

  private async entries(facts: StreamFacts, afterSeq: number): Promise<Schemas["EntryPage"]> {
    const query = `?after_seq=${afterSeq}&limit=${PAGE}`;
    return this.call<Schemas["EntryPage"]>("GET", this.route(facts, `/entries${query}`));
  }

  /** The offset of the last batch: its last entry says which part it is. */
  private async headOffset(facts: StreamFacts): Promise<string> {
    const page = await this.call<Schemas["EntryPage"]>(
      "GET",
      this.route(facts, "/entries?order=desc&limit=1"),
    );
    const last = page.entries[0];
    return last ? formatOffset(last.seq - partOf(last).part - 1) : formatOffset(-1);
  }

  /** The stream's batches from seq `afterSeq + 1` on, each as its entries, page by page. */
  private async *groups(
    path: string,
    facts: StreamFacts,
    afterSeq: number,
  ): AsyncGenerator<Schemas["Entry"][]> {
    let group: Schemas["Entry"][] = [];
    let after = afterSeq;
    for (;;) {
      const page = await this.entries(facts, after);
      for (const entry of page.entries) {
        if (group.length === 0 && partOf(entry).part !== 0) {
          this.fail("read", path, "Read offset is not the offset of a batch.");
        }
        group.push(entry);
        if (group.length === partOf(group[0]).parts) {
          yield group;
          group = [];
        }
      }
      if (!page.has_more) return;
      after = page.entries[page.entries.length - 1].seq;
    }
  }

  private batch(entries: Schemas["Entry"][]): ConversationStreamBatch {
    const data = entries.map((e) => e.content ?? "").join("");
    return { offset: formatOffset(entries[0].seq - 1), records: JSON.parse(data) };
  }

  private async call<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await this.fetcher(`${this.base}${route}`, {
      method,
      headers: this.headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = (parsed as Schemas["ErrorBody"] | null)?.error;
      throw new HttpError(response.status, error?.code ?? "http_error", error?.message ?? text);
    }
    return parsed as T;
  }

  private fail(operation: string, path: string, reason: string): never {
    throw new ConversationStreamStoreError({ operation, path, reason });
  }
}
