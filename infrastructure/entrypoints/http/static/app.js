// The history page: conversations, their full history, and what the model saw at any point.
// Talks to the JSON API with the session cookie; builds the DOM with textContent only.
// Opening the page starts no session: signing in does, or (on a server that takes anonymous
// writes) the first conversation the page starts. A conversation may be a branch of another
// (an edit forks one): the page says which, and each message with alternatives switches them.
"use strict";

const $ = (id) => document.getElementById(id);
// local: on a loopback server, the tenant the page reads without a session, and what it shows.
// branch: the open conversation in its tree; alternatives: position -> its siblings there.
const state = {
  session: null,
  local: null,
  entries: [],
  summaries: [],
  changes: [],
  calls: [],
  branch: null,
  alternatives: new Map(),
};

class Problem extends Error {
  constructor(body, status) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.field = body.field;
    this.body = body;
  }
}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  // Writes the session cookie makes carry its CSRF token; the browser adds Origin itself.
  if (method !== "GET" && state.session) init.headers["X-CSRF-Token"] = state.session.csrf_token;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Problem(data, response.status);
  return data;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const current = () => (state.session ? state.session.conversation : state.local?.conversation);

const conversationPath = () => `/v1/conversations/${encodeURIComponent(current())}`;

// Session and conversations

async function start() {
  try {
    state.session = await api("GET", "/v1/session");
  } catch (error) {
    if (error.status !== 401) throw error;
    state.session = null;
    if (error.body.local_tenant) {
      // A loopback server's local tenant: readable here without a session; writing signs in.
      await startLocal(error.body.local_tenant, !error.body.anonymous_writes);
      return;
    }
    if (!error.body.anonymous_writes) {
      $("signin").hidden = false;
      $("workspace").hidden = true;
      return;
    }
  }
  state.local = null;
  $("tenant").textContent = state.session ? state.session.tenant : "none yet";
  $("conversation-id").textContent = state.session ? state.session.conversation : "none yet";
  await Promise.all([loadConversations(), loadHistory()]);
}

async function startLocal(tenant, signInToWrite) {
  const { conversations } = await api("GET", "/v1/conversations?limit=200");
  const ids = conversations.map((c) => c.id);
  const shown = state.local && ids.includes(state.local.conversation) ? state.local.conversation : ids[0];
  state.local = { tenant, conversation: shown };
  $("signin").hidden = !signInToWrite;
  $("signin").classList.add("compact");
  $("signin-note").textContent =
    `Reading tenant ${tenant} from this machine. To write, sign in with a tenant's API key.`;
  $("workspace").hidden = false;
  $("tenant").textContent = `${tenant} (read-only, this machine)`;
  $("conversation-id").textContent = shown ?? "none yet";
  await Promise.all([loadConversations(), loadHistory()]);
}

// The session starts with the first conversation, on a server that takes anonymous writes.
async function ensureSession() {
  if (!state.session) state.session = await api("POST", "/v1/session/conversations");
}

async function loadConversations() {
  const list = $("conversation-list");
  if (!state.session && !state.local) {
    list.replaceChildren();
    return;
  }
  const { conversations } = await api("GET", "/v1/conversations?limit=200");
  const ids = conversations.map((c) => c.id);
  if (current() && !ids.includes(current())) ids.unshift(current());
  const erased = new Set(conversations.filter((c) => c.erased_at).map((c) => c.id));
  list.replaceChildren(
    ...ids.map((id) => {
      const item = el("li");
      const button = el("button", id === current() ? "current" : "", id);
      button.type = "button";
      if (erased.has(id)) button.append(el("span", "badge", "erased"));
      button.addEventListener("click", () => showConversation(id));
      item.append(button);
      return item;
    }),
  );
}

async function showConversation(id) {
  if (state.session) {
    state.session = await api("PUT", "/v1/session/conversation", { conversation: id });
  } else if (state.local) {
    state.local.conversation = id;
  }
  await start();
  if (!$("memory").hidden) await refreshMemory();
}

async function newConversation() {
  state.session = await api("POST", "/v1/session/conversations");
  await start();
  if (!$("memory").hidden) await refreshMemory();
}

// History

async function loadHistory() {
  let entries = [];
  let summaries = [];
  let changes = [];
  let before = null;
  if (!current()) {
    state.entries = entries;
    state.summaries = summaries;
    state.changes = changes;
    state.branch = null;
    state.alternatives = new Map();
    renderBranchInfo();
    $("history-length").textContent = "";
    renderHistory();
    return;
  }
  try {
    // Newest pages first, until the start (or 5,000 messages: enough for a page).
    do {
      const query = before ? `?limit=1000&before=${before}` : "?limit=1000";
      const page = await api("GET", `${conversationPath()}/history${query}`);
      entries = page.entries.concat(entries);
      before = page.older;
    } while (before && entries.length < 5000);
    ({ summaries } = await api("GET", `${conversationPath()}/summaries`));
    ({ changes } = await api("GET", `${conversationPath()}/memory-changes`));
  } catch (error) {
    if (error.status !== 404) throw error; // a conversation not recorded yet
  }
  state.entries = entries;
  state.summaries = summaries;
  state.changes = changes;
  await loadBranches(entries.length);
  $("history-length").textContent = `${entries.length} messages`;
  renderHistory();
}

// Branches

// Alternatives only begin where some branch of the tree forked: ask for siblings there alone.
async function loadBranches(length) {
  state.branch = null;
  state.alternatives = new Map();
  let branches = [];
  try {
    ({ branches } = await api("GET", `${conversationPath()}/branches`));
  } catch (error) {
    if (error.status !== 404 && error.status !== 410) throw error;
  }
  state.branch = branches.find((b) => b.conversation_id === current()) || null;
  const positions = new Set(
    branches.filter((b) => b.parent !== null && b.fork_point < length).map((b) => b.fork_point + 1),
  );
  const found = await Promise.all(
    [...positions].map((position) =>
      api("GET", `${conversationPath()}/siblings?position=${position}`).catch(() => ({ siblings: [] })),
    ),
  );
  for (const { position, siblings } of found) {
    if (siblings.length > 1) state.alternatives.set(position, siblings);
  }
  renderBranchInfo();
}

function renderBranchInfo() {
  const info = $("branch-info");
  const branch = state.branch;
  if (!branch || branch.parent === null) {
    info.hidden = true;
    info.replaceChildren();
    return;
  }
  const parent = el("button", "link parent", branch.parent);
  parent.type = "button";
  parent.addEventListener("click", () => showConversation(branch.parent));
  info.replaceChildren(
    document.createTextNode("Branch "),
    el("b", "", branch.conversation_id),
    document.createTextNode(" of "),
    parent,
    document.createTextNode(
      branch.fork_point ? `, sharing its messages 1–${branch.fork_point}` : ", sharing none of its messages",
    ),
  );
  info.hidden = false;
}

// "< 2/3 >": the alternatives at a position; each arrow opens the branch holding the next one.
function renderSwitcher(position) {
  const siblings = state.alternatives.get(position);
  if (!siblings) return null;
  const index = siblings.findIndex((s) => s.current);
  const box = el("span", "switcher");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", `Alternatives at message ${position}`);
  const step = (label, className, offset) => {
    const target = siblings[index + offset];
    const button = el("button", className, label);
    button.type = "button";
    button.setAttribute("aria-label", offset < 0 ? "Previous alternative" : "Next alternative");
    button.disabled = !target;
    if (target) button.addEventListener("click", () => showConversation(target.conversation_id));
    return button;
  };
  box.append(
    step("‹", "switcher-prev", -1),
    el("span", "switcher-count", `${index + 1}/${siblings.length}`),
    step("›", "switcher-next", 1),
  );
  return box;
}

// Editing a message forks the conversation just before it and records the new text there.
function startEdit(item, entry) {
  if (item.querySelector(".edit-form")) return;
  const form = el("form", "edit-form");
  const text = el("textarea");
  text.value = typeof entry.message.content === "string" ? entry.message.content : "";
  text.rows = 2;
  text.required = true;
  text.setAttribute("aria-label", `New text for message ${entry.position}`);
  const save = el("button", "save", "Save as branch");
  save.type = "submit";
  const cancel = el("button", "cancel", "Cancel");
  cancel.type = "button";
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  cancel.addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    let branch;
    try {
      branch = await api("POST", `${conversationPath()}/edit`, {
        position: entry.position,
        message: { role: entry.message.role, content: text.value },
      });
    } catch (problem) {
      error.textContent = problem.field ? `${problem.field}: ${problem.message}` : problem.message;
      return;
    }
    await showConversation(branch.conversation_id);
  });
  form.append(text, save, cancel, error);
  item.append(form);
  text.focus();
}

function renderHistory() {
  const list = $("history");
  const waiting = new Map(); // tool call id -> results list of the latest call waiting for it
  let prompts = 0;
  const items = [];
  // Each summary is shown where it was recorded: after the message the history then ended at.
  const recorded = new Map();
  for (const summary of state.summaries) {
    recorded.set(summary.position, [...(recorded.get(summary.position) || []), summary]);
  }
  // Memory changes: the history keeps every message, and marks what memory no longer shows.
  const retracted = new Set(state.changes.filter((c) => c.kind === "retracted").map((c) => c.target));
  for (const clear of state.changes.filter((c) => c.kind === "cleared")) {
    recorded.set(clear.position, [...(recorded.get(clear.position) || []), clear]);
  }
  const after = []; // the summaries and clears to show after the item just built
  const renderAfter = (item) => (item.kind === "cleared" ? renderClear(item) : renderSummary(item));
  const mark = (item, entry) => {
    if (!retracted.has(entry.position)) return item;
    item.classList.add("retracted");
    item.append(el("span", "badge", "retracted from memory"));
    return item;
  };
  for (const entry of state.entries) {
    items.push(...after.splice(0).map(renderAfter));
    after.push(...(recorded.get(entry.position) || []));
    const message = entry.message;
    if (message.role === "tool") {
      const results = waiting.get(message.tool_call_id);
      if (results) {
        results.append(mark(renderToolResult(entry), entry));
        waiting.delete(message.tool_call_id);
        continue;
      }
      const orphan = renderEntry(entry);
      orphan.append(el("span", "badge warn", "orphaned tool result"));
      items.push(mark(orphan, entry));
      continue;
    }
    const item = renderEntry(entry);
    if (message.role === "system") {
      item.classList.add("prompt-change");
      item.prepend(el("div", "marker", prompts++ === 0 ? "System prompt set" : "System prompt changed"));
    }
    if (message.tool_calls.length) {
      const fold = el("details", "tools");
      fold.append(el("summary", "", `${message.tool_calls.length} tool call(s) and results`));
      for (const call of message.tool_calls) {
        const box = el("div", "tool-call");
        box.append(el("code", "", `${call.name}(${call.arguments})`));
        const results = el("div", "tool-results");
        box.append(results);
        waiting.set(call.id, results);
        fold.append(box);
      }
      item.append(fold);
    }
    items.push(mark(item, entry));
  }
  items.push(...after.map(renderAfter));
  list.replaceChildren(...items);
  list.scrollTop = list.scrollHeight;
  // On a narrow screen the page itself scrolls: show the newest messages, beside the composer.
  if (narrow() && $("memory").hidden) window.scrollTo(0, document.documentElement.scrollHeight);
}

function renderClear(change) {
  const item = el("li", "entry cleared");
  item.dataset.change = change.number;
  item.append(
    el("div", "marker", "Memory cleared"),
    el("p", "muted", `The model is no longer shown messages 1–${change.position}; the history keeps them.`),
  );
  return item;
}

function renderSummary(summary) {
  const item = el("li", "entry summary");
  item.dataset.summary = summary.number;
  const head = el("div", "head");
  head.append(
    el("span", "role summary", `summary #${summary.number}`),
    el("span", "muted", `covers messages 1–${summary.covers}`),
    el("span", "muted", `${summary.tokens} tokens`),
  );
  if (summary.model) head.append(el("span", "muted", `by ${summary.model}`));
  item.append(head, el("p", summary.erased ? "content muted" : "content", summary.erased ? "(erased)" : summary.text));
  return item;
}

function header(entry) {
  const head = el("div", "head");
  head.append(
    el("span", `role ${entry.message.role}`, entry.message.role),
    el("span", "muted", `#${entry.position}`),
    el("span", "muted", new Date(entry.recorded_at).toLocaleString()),
    el("span", "muted", `${entry.tokens} tokens`),
  );
  return head;
}

function renderEntry(entry) {
  const item = el("li", `entry ${entry.message.role}`);
  item.dataset.position = entry.position;
  const head = header(entry);
  const switcher = renderSwitcher(entry.position);
  if (switcher) head.append(switcher);
  const view = el("button", "link", "what the model saw here");
  view.type = "button";
  view.addEventListener("click", () => openMemoryAt(entry.position));
  head.append(view);
  // Editing writes: a session's page may (a read-only local page may not).
  if (state.session && entry.message.role === "user" && !entry.erased) {
    const edit = el("button", "link edit", "edit");
    edit.type = "button";
    edit.setAttribute("aria-label", `Edit message ${entry.position}`);
    edit.addEventListener("click", () => startEdit(item, entry));
    head.append(edit);
  }
  item.append(head, renderContent(entry));
  return item;
}

function renderToolResult(entry) {
  const result = el("div", "tool-result");
  result.append(header(entry), renderContent(entry));
  return result;
}

function renderCalls(message) {
  const calls = el("div", "tool-calls");
  for (const call of message.tool_calls) {
    const box = el("div", "tool-call");
    box.append(el("code", "", `${call.name}(${call.arguments})`));
    calls.append(box);
  }
  return calls;
}

function renderContent(entry) {
  if (entry.erased) return el("p", "content muted", "(erased)");
  const content = entry.message.content;
  if (!Array.isArray(content)) return el("p", "content", content ?? "");
  const parts = el("div", "content parts");
  parts.append(...content.map(renderPart));
  return parts;
}

function byteSize(part) {
  if (part.attachment) return part.attachment.size;
  if (!part.data) return null;
  const padding = part.data.endsWith("==") ? 2 : part.data.endsWith("=") ? 1 : 0;
  return Math.floor((part.data.length * 3) / 4) - padding;
}

function sizeText(size) {
  if (size === null) return "";
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MiB`;
}

function partLabel(part) {
  const words = [part.type, part.filename, part.format, part.media_type, sizeText(byteSize(part))];
  if (!part.data && !part.attachment) words.push(part.url ?? part.file_id);
  return words.filter(Boolean).join(" ");
}

// An image stored apart is fetched by its digest from this conversation, as this page's own
// request (its session), and shown from the bytes; the label stays until they arrive.
function attachedImage(part, label) {
  const image = el("img", "thumb");
  image.alt = label;
  image.title = label;
  const path = `${conversationPath()}/attachments/${part.attachment.digest}`;
  fetch(path)
    .then((response) => (response.ok ? response.arrayBuffer() : Promise.reject(response.status)))
    .then((bytes) => {
      image.src = URL.createObjectURL(new Blob([bytes], { type: part.attachment.media_type }));
    })
    .catch(() => image.classList.add("unavailable"));
  return image;
}

// Images the page holds the bytes of show as thumbnails; a URL is a link, never fetched by the
// page (the content security policy allows data: images only, and a URL may track the reader).
function renderPart(part) {
  if (part.type === "text") return el("p", "part-text", part.text);
  if (part.type === "refusal") {
    const refusal = el("p", "refusal");
    refusal.append(el("span", "badge", "refused"), document.createTextNode(` ${part.refusal}`));
    return refusal;
  }
  if (part.type === "reasoning") {
    if (part.redacted) return el("p", "reasoning muted", `redacted reasoning (${part.provider})`);
    const folded = el("details", "reasoning");
    const text = part.text ?? (part.summary || []).join("\n");
    folded.append(el("summary", "", `reasoning (${part.provider})`), el("p", "", text));
    return folded;
  }
  const label = partLabel(part);
  if (part.type === "image" && part.attachment && part.attachment.media_type.startsWith("image/")) {
    return attachedImage(part, label);
  }
  if (part.type === "image" && part.data) {
    const image = el("img", "thumb");
    image.src = `data:${part.media_type};base64,${part.data}`;
    image.alt = label;
    image.title = label;
    return image;
  }
  if (part.url && /^https?:\/\//i.test(part.url)) {
    const link = el("a", "attachment", label);
    link.href = part.url;
    link.rel = "noopener noreferrer nofollow";
    link.target = "_blank";
    return link;
  }
  return el("span", "attachment", label);
}

async function send(event) {
  event.preventDefault();
  const content = $("content").value;
  const role = $("role").value;
  $("composer-error").textContent = "";
  try {
    await ensureSession();
    // A fresh Idempotency-Key per message: a retried request records it once.
    await api(
      "POST",
      `${conversationPath()}/messages`,
      { role, content },
      { "Idempotency-Key": randomKey() },
    );
  } catch (error) {
    $("composer-error").textContent = error.field ? `${error.field}: ${error.message}` : error.message;
    return;
  }
  $("content").value = "";
  await start();
  if (!$("memory").hidden) await refreshMemory();
}

// What the model saw

// On a narrow screen the panel is below the history: bring it into view when it opens.
const narrow = () => window.matchMedia("(max-width: 760px)").matches;

function revealMemory() {
  if (narrow()) $("memory").scrollIntoView({ block: "start" });
}

async function toggleMemory() {
  const panel = $("memory");
  panel.hidden = !panel.hidden;
  $("toggle-memory").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) {
    await refreshMemory();
    revealMemory();
  }
}

async function openMemoryAt(position) {
  $("memory-call").value = "";
  $("memory-at").value = position;
  $("memory").hidden = false;
  $("toggle-memory").setAttribute("aria-expanded", "true");
  await refreshMemory();
  revealMemory();
}

async function loadCalls() {
  try {
    if (!current()) throw new Problem({}, 404);
    state.calls = await api("GET", `${conversationPath()}/model-calls`);
  } catch (error) {
    if (error.status !== 404) throw error;
    state.calls = [];
  }
  const select = $("memory-call");
  const chosen = select.value;
  select.replaceChildren(el("option", "", "none: pick a position"));
  select.firstChild.value = "";
  for (const call of state.calls) {
    const option = el("option", "", `#${call.number} ${call.model} at position ${call.position}`);
    option.value = String(call.number);
    select.append(option);
  }
  select.value = state.calls.some((c) => String(c.number) === chosen) ? chosen : "";
}

function chooseCall() {
  const call = state.calls.find((c) => String(c.number) === $("memory-call").value);
  if (!call) return;
  $("memory-at").value = call.position;
  const tokens = call.policy.kind !== "message_window";
  $("memory-kind").value = tokens ? (call.policy.kind === "summary_window" ? "summaries" : "max_tokens") : "max_messages";
  $("memory-budget").value = tokens ? call.policy.max_tokens : call.policy.max_messages;
  $("memory-start-on-user").checked = call.policy.start_on_user;
  refreshMemory();
}

async function refreshMemory(event) {
  if (event) event.preventDefault();
  await loadCalls();
  const summary = $("memory-summary");
  const list = $("memory-entries");
  if (!state.entries.length) {
    summary.textContent = "Nothing recorded yet.";
    list.replaceChildren();
    return;
  }
  const kind = $("memory-kind").value;
  const query = new URLSearchParams({
    [kind === "summaries" ? "max_tokens" : kind]: $("memory-budget").value || "1",
    start_on_user: String($("memory-start-on-user").checked),
  });
  if (kind === "summaries") query.set("summaries", "true");
  if ($("memory-at").value) query.set("at", $("memory-at").value);
  let explanation;
  try {
    explanation = await api("GET", `${conversationPath()}/memory/explanation?${query}`);
  } catch (error) {
    summary.textContent = error.field ? `${error.field}: ${error.message}` : error.message;
    list.replaceChildren();
    return;
  }
  const { view, excluded } = explanation;
  const reasons = new Map(excluded.map((e) => [e.position, e.reason]));
  const shown = view.summary ? ` and summary #${view.summary.number}` : "";
  summary.textContent =
    `At position ${view.position}: ${view.entries.length} messages${shown}, ${view.tokens} tokens ` +
    `sent; ${excluded.length} left out.`;
  list.replaceChildren(
    ...state.entries
      .filter((entry) => entry.position <= view.position)
      .flatMap((entry) => {
        const item = el("li", `entry ${entry.message.role}`);
        item.append(header(entry));
        // A message that is only tool calls has no text: its calls are what the model saw.
        if (entry.erased || entry.message.content || !entry.message.tool_calls.length) {
          item.append(renderContent(entry));
        }
        if (!entry.erased && entry.message.tool_calls.length) item.append(renderCalls(entry.message));
        const reason = reasons.get(entry.position);
        if (reason) {
          item.classList.add("excluded");
          item.append(el("span", "badge", reason));
        } else {
          item.classList.add("included");
        }
        // The summary stands for messages 1..covers: the model saw it after the system prompt.
        if (view.summary && entry.position === view.summary.covers) return [item, renderShownSummary(view.summary)];
        return [item];
      }),
  );
}

function renderShownSummary(shown) {
  const item = el("li", "entry summary included");
  item.dataset.summary = shown.number;
  const head = el("div", "head");
  head.append(
    el("span", "role summary", `summary #${shown.number}`),
    el("span", "muted", `stands for messages 1–${shown.covers}`),
    el("span", "muted", `${shown.tokens} tokens`),
  );
  item.append(head, el("p", "content", shown.message.content));
  return item;
}

async function signIn(event) {
  event.preventDefault();
  try {
    await api("POST", "/v1/session", { api_key: $("api-key").value });
  } catch (error) {
    $("signin-error").textContent = error.message;
    return;
  }
  $("signin").hidden = true;
  $("workspace").hidden = false;
  await start();
}

document.addEventListener("DOMContentLoaded", () => {
  $("composer").addEventListener("submit", send);
  $("content").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("composer").requestSubmit();
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("toggle-memory").addEventListener("click", toggleMemory);
  $("memory-form").addEventListener("submit", refreshMemory);
  $("memory-call").addEventListener("change", chooseCall);
  $("signin").addEventListener("submit", signIn);
  start().catch((error) => {
    $("composer-error").textContent = error.message;
  });
});
