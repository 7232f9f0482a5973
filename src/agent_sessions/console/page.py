"""The console's single HTML page: markup, style and script inline.

Why a Python string: a Python Worker's bundle carries Python modules, so the page travels as
one, with no build step and nothing fetched from a CDN. The script talks to the same HTTP API
as every client, with the bearer token the user pastes in (kept in this tab's sessionStorage
only); what the token may not do, the API refuses (a read-only token gets 403 on actions).
"""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agent-sessions console</title>
<style>
  :root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --accent: #0550ae; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); }
  header { display: flex; gap: 12px; align-items: center; padding: 10px 16px;
           border-bottom: 1px solid var(--line); background: var(--bg); }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  main { display: grid; grid-template-columns: minmax(340px, 38%) 1fr; min-height: 0; }
  section { padding: 12px 16px; overflow: auto; height: calc(100vh - 52px); }
  #browse { border-right: 1px solid var(--line); }
  form.filters { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 10px;
                 margin-bottom: 10px; }
  label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
  input, select, button { font: inherit; padding: 4px 6px; }
  button { cursor: pointer; border: 1px solid var(--line); background: white; border-radius: 4px; }
  button.primary { background: var(--accent); color: white; border-color: var(--accent); }
  :focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line); }
  tbody tr { cursor: pointer; }
  tbody tr:hover, tbody tr[aria-selected="true"] { background: #eef4fb; }
  .status { font-size: 12px; padding: 1px 6px; border-radius: 10px; background: var(--bg);
            border: 1px solid var(--line); }
  .muted { color: var(--muted); }
  .counters { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 6px 0 10px; }
  .actions { display: flex; gap: 8px; margin-bottom: 12px; }
  ol.transcript { list-style: none; padding: 0; margin: 0; }
  ol.transcript li { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
                     margin-bottom: 8px; }
  li.role-user { background: #f3f8ff; }
  li.compaction { background: #fff8e5; border-style: dashed; }
  .meta { font-size: 12px; color: var(--muted); margin-bottom: 4px; }
  pre { white-space: pre-wrap; margin: 4px 0 0; font: 12px/1.4 ui-monospace, monospace; }
  .hit { padding: 6px 0; border-bottom: 1px solid var(--line); }
  .hit button { margin-right: 6px; }
  #notice { min-height: 1.2em; }
  #notice.error { color: #a40e26; }
</style>
</head>
<body>
<header>
  <h1>agent-sessions</h1>
  <label>Token <input id="token" type="password" autocomplete="off" size="28"
    placeholder="none with --no-auth"></label>
  <button id="use-token" type="button">Use</button>
  <span id="notice" role="status" aria-live="polite"></span>
</header>
<main>
  <section id="browse" aria-label="Sessions">
    <form class="filters" id="filters">
      <label>User <input name="user_id"></label>
      <label>Agent <input name="agent_name"></label>
      <label>Status
        <select name="status">
          <option value="">any</option><option>active</option><option>completed</option>
          <option>abandoned</option><option>archived</option>
        </select>
      </label>
      <label>Updated since <input name="updated_since" type="date"></label>
      <button class="primary" type="submit">Filter</button>
    </form>
    <form id="search" role="search" class="filters">
      <label>Search entries <input name="q" type="search" placeholder="words in messages"></label>
      <button type="submit">Search</button>
    </form>
    <div id="hits" aria-label="Search results"></div>
    <table aria-label="Sessions">
      <thead><tr><th>Session</th><th>User</th><th>Agent</th><th>Status</th>
        <th>Msgs</th><th>Updated</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <button id="more" type="button" hidden>More</button>
  </section>
  <section id="detail" aria-label="Session" aria-live="polite">
    <p class="muted">Choose a session.</p>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("agent-sessions-token") || "";
let cursor = null;

function notice(text, error = false) {
  $("notice").textContent = text;
  $("notice").className = error ? "error" : "";
}

async function api(path, init = {}) {
  const headers = { "content-type": "application/json", ...(init.headers || {}) };
  if (token) headers.authorization = "Bearer " + token;
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error.message; } catch (_) {}
    throw new Error(message);
  }
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");

function query(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (!value) continue;
    params.set(name, name === "updated_since" ? String(Date.parse(value)) : value);
  }
  return params;
}

async function list(append = false) {
  const params = query($("filters"));
  params.set("limit", "50");
  if (append && cursor) params.set("cursor", cursor);
  try {
    const page = await api("/v1/sessions?" + params);
    if (!append) $("rows").replaceChildren();
    for (const s of page.sessions) {
      const row = el("tr", { tabIndex: 0 },
        el("td", {}, s.title ? `${s.id} — ${s.title}` : s.id),
        el("td", {}, s.user_id || ""), el("td", {}, s.agent_name || ""),
        el("td", {}, el("span", { className: "status" }, s.status)),
        el("td", {}, String(s.message_count)), el("td", {}, when(s.updated_at)));
      row.dataset.id = s.id;
      row.onclick = () => open(s.id);
      row.onkeydown = (e) => { if (e.key === "Enter") open(s.id); };
      $("rows").append(row);
    }
    cursor = page.next_cursor;
    $("more").hidden = !cursor;
    notice(`${$("rows").children.length} session(s)`);
  } catch (e) { notice(e.message, true); }
}

async function search(event) {
  event.preventDefault();
  const q = new FormData($("search")).get("q");
  if (!q.trim()) { $("hits").replaceChildren(); return; }
  try {
    const { hits } = await api("/v1/search?" + new URLSearchParams({ q, limit: "50" }));
    $("hits").replaceChildren(...hits.map((h) => el("div", { className: "hit" },
      el("button", { type: "button", onclick: () => open(h.session_id, h.seq) },
        `${h.session_id} #${h.seq}`),
      el("span", {}, h.snippet))));
    notice(`${hits.length} hit(s) for “${q}”`);
  } catch (e) { notice(e.message, true); }
}

async function allEntries(id) {
  const entries = [];
  let after = 0;
  for (let pages = 0; pages < 10; pages++) {
    // Large entries as their rows keep them (a prefix): a transcript of tool outputs of
    // several MB each stays light; the export has them whole.
    const page = await api(`/v1/sessions/${id}/entries?after_seq=${after}&limit=1000&large=prefix`);
    entries.push(...page.entries);
    if (!page.has_more) break;
    after = page.entries[page.entries.length - 1].seq;
  }
  return entries;
}

function entryItem(entry, previous) {
  const item = el("li", { id: "entry-" + entry.seq,
    className: `type-${entry.type} role-${entry.role || "none"}` });
  const branch = entry.parent_id && previous && entry.parent_id !== previous.id
    ? ` · branches from ${entry.parent_id}` : "";
  const tokens = entry.input_tokens || entry.output_tokens
    ? ` · tokens ${entry.input_tokens}/${entry.output_tokens}` : "";
  item.append(el("div", { className: "meta" },
    `#${entry.seq} ${entry.type}${entry.role ? " · " + entry.role : ""}${branch}${tokens}`));
  const payload = entry.payload === null ? "" : JSON.stringify(entry.payload, null, 2);
  if (entry.blob) {
    item.append(el("div", { className: "muted" }, `large: ${entry.blob.fields.join(" and ")} ` +
      `of ${entry.blob.bytes} bytes in the blob store; shown: the content's first characters`));
  }
  if (entry.type === "compaction") {
    item.classList.add("compaction");
    item.append(el("strong", {}, "Compaction summary: "), el("span", {}, entry.content || ""));
  } else if (entry.type === "tool_call" || entry.type === "tool_result") {
    const label = entry.type === "tool_call" ? "Tool call" : "Tool result";
    item.append(el("details", {}, el("summary", {}, label + (entry.content ? ": " +
      entry.content.slice(0, 80) : "")), el("pre", {}, [entry.content, payload]
      .filter(Boolean).join("\n"))));
  } else {
    item.append(el("div", {}, entry.content || ""));
    if (payload) {
      item.append(el("details", {}, el("summary", {}, "payload"), el("pre", {}, payload)));
    }
  }
  return item;
}

async function open(id, seq = null) {
  for (const row of $("rows").children) row.setAttribute("aria-selected", row.dataset.id === id);
  try {
    const [s, entries, mirror] = await Promise.all([
      api(`/v1/sessions/${id}`), allEntries(id), api(`/v1/sessions/${id}/mirror`)]);
    const lineage = s.parent_id
      ? el("span", {}, "forked from ", el("button", { type: "button",
          onclick: () => open(s.parent_id) }, s.parent_id), ` at #${s.forked_from_seq}`)
      : el("span", { className: "muted" }, "no parent");
    const action = (label, run) => el("button", { type: "button", onclick: run }, label);
    $("detail").replaceChildren(
      el("h2", {}, s.title ? `${s.id} — ${s.title}` : s.id),
      el("div", { className: "counters" },
        el("span", {}, "status ", el("span", { className: "status", id: "status" }, s.status)),
        el("span", {}, `entries ${s.entry_count}`), el("span", {}, `messages ${s.message_count}`),
        el("span", {}, `tokens in ${s.input_tokens} / out ${s.output_tokens}`),
        el("span", {}, `version ${s.version}`), el("span", {}, `updated ${when(s.updated_at)}`),
        el("span", {}, `user ${s.user_id || "—"} · agent ${s.agent_name || "—"}`),
        lineage,
        el("span", { id: "lag" }, `mirror: ${mirror.pending} pending, lag ${mirror.lag_ms} ms`)),
      el("div", { className: "actions" },
        action("Mark completed", () => setStatus(s, "completed")),
        action("Mark abandoned", () => setStatus(s, "abandoned")),
        action("Export", () => exportSession(s.id)),
        action("Delete…", () => remove(s.id))),
      el("ol", { className: "transcript", "aria-label": "Transcript" },
        ...entries.map((e, i) => entryItem(e, entries[i - 1]))));
    if (seq !== null) {
      const target = $("entry-" + seq);
      if (target) { target.scrollIntoView(); target.style.outline = "2px solid #0550ae"; }
    }
    notice(`session ${id}: ${entries.length} entries`);
  } catch (e) { notice(e.message, true); }
}

async function setStatus(s, status) {
  try {
    await api(`/v1/sessions/${s.id}`, { method: "PATCH", body: JSON.stringify({ status }) });
    notice(`${s.id} is ${status}`);
    await open(s.id);
    await list();
  } catch (e) { notice(e.message, true); }
}

async function exportSession(id) {
  try {
    const text = await api(`/v1/sessions/${id}/export`);
    const link = el("a", { href: URL.createObjectURL(new Blob([text])),
      download: `${id}.jsonl` });
    link.click();
    notice(`exported ${id}`);
  } catch (e) { notice(e.message, true); }
}

async function remove(id) {
  if (!confirm(`Delete session ${id} and all its entries? This cannot be undone.`)) return;
  try {
    await api(`/v1/sessions/${id}`, { method: "DELETE" });
    $("detail").replaceChildren(el("p", { className: "muted" }, `${id} was deleted.`));
    notice(`deleted ${id}`);
    await list();
  } catch (e) { notice(e.message, true); }
}

$("token").value = token;
$("use-token").onclick = () => {
  token = $("token").value.trim();
  sessionStorage.setItem("agent-sessions-token", token);
  list();
};
$("filters").onsubmit = (e) => { e.preventDefault(); list(); };
$("search").onsubmit = search;
$("more").onclick = () => list(true);
list();
</script>
</body>
</html>
"""
