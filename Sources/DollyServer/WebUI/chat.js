// The chat page of `dolly serve`: one conversation with the server's /v1/chat/completions, streamed.
// Every text from the model or the user goes into the page through textContent, never as HTML.
"use strict";

// Dolly's sampling defaults. Max tokens left empty is the server's default: 256, or what the context leaves
// after the prompt (a fixed 256 would be refused once the prompt and it no longer fit the context).
const DEFAULTS = { temperature: "1", top_p: "0.92", max_tokens: "", repetition_penalty: "1.0", stop: "" };
const KEY_STORAGE = "dolly-api-key";

const $ = (id) => document.getElementById(id);
const ui = {
  conversation: $("conversation"), empty: $("empty"), model: $("model"), form: $("composer"),
  prompt: $("prompt"), send: $("send"), stop: $("stop-button"), context: $("context"),
  keyRow: $("key-row"), key: $("api-key"),
};

let history = [];      // finished turns: {role: "user" | "assistant", content}
let conversation = 0;  // counts new conversations: an answer ending after one is not kept
let running = null;    // the AbortController of the answer being streamed
let pendingText = "";  // a message refused for want of a key, sent again once one is given

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Plain text, with ``` fences as code blocks (an unclosed fence, while streaming, runs to the end).
function render(target, text) {
  const parts = text.split("```");
  const nodes = parts.map((part, i) => {
    if (i % 2 === 0) return el("div", "text", part.replace(/^\n+|\n+$/g, ""));
    const pre = el("pre");
    pre.appendChild(el("code", null, part.replace(/^[\w+#.-]*\n/, "").replace(/\n+$/, "")));
    return pre;
  }).filter((node) => node.tagName === "PRE" || node.textContent !== "");
  target.replaceChildren(...nodes);
}

function nearBottom() {
  const c = ui.conversation;
  return c.scrollHeight - c.scrollTop - c.clientHeight < 80;
}

function scrollDown() { ui.conversation.scrollTop = ui.conversation.scrollHeight; }

function addMessage(role, text) {
  ui.empty.hidden = true;
  const article = el("article", "message " + role);
  article.appendChild(el("div", "role", role === "user" ? "You" : role === "assistant" ? "Dolly" : "Error"));
  const body = el("div", "body");
  render(body, text);
  article.appendChild(body);
  ui.conversation.appendChild(article);
  scrollDown();
  return { article, body };
}

function addError(message) { addMessage("error", message); }

function apiHeaders() {
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = "Bearer " + key;
  return headers;
}

// The server's {"error": {"message": ...}}, or the status line.
async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return "HTTP " + response.status + " " + response.statusText;
}

function askForKey() {
  ui.keyRow.hidden = false;
  ui.key.focus();
}

function readSettings() {
  const number = (id) => {
    const text = $(id).value.trim(), value = Number(text);
    if (text === "" || !Number.isFinite(value)) throw new Error("Settings: " + id + " must be a number");
    return value;
  };
  const stop = $("stop").value.split(/[,\n]/).map((s) => s.trim()).filter((s) => s !== "");
  if (stop.length > 4) throw new Error("Settings: at most 4 stop texts");
  const settings = {
    temperature: number("temperature"), top_p: number("top_p"), repetition_penalty: number("repetition_penalty"),
  };
  if ($("max_tokens").value.trim() !== "") settings.max_tokens = Math.round(number("max_tokens"));
  if (stop.length) settings.stop = stop;
  return settings;
}

function setRunning(controller) {
  running = controller;
  ui.send.disabled = controller !== null;
  ui.send.hidden = controller !== null;
  ui.stop.hidden = controller === null;
  document.body.classList.toggle("busy", controller !== null);
}

// The answer's `data:` events, parsed, as they arrive.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

async function send(text) {
  let settings;
  try {
    settings = readSettings();
  } catch (e) {
    $("settings").open = true;
    addError(e.message);
    return;
  }
  const messages = [];
  const context = ui.context.value;
  if (context.trim() !== "") messages.push({ role: "system", content: context });
  messages.push(...history, { role: "user", content: text });

  const user = addMessage("user", text);
  const answer = addMessage("assistant", "");
  answer.article.classList.add("streaming");
  const meta = el("div", "meta");
  answer.article.appendChild(meta);

  const controller = new AbortController(), started = conversation;
  setRunning(controller);
  let content = "", chunks = 0, usage = null, first = 0, finish = null;
  try {
    const response = await fetch("v1/chat/completions", {
      method: "POST", headers: apiHeaders(), signal: controller.signal,
      body: JSON.stringify({ messages, stream: true, stream_options: { include_usage: true }, ...settings }),
    });
    if (response.status === 401) {
      user.article.remove();
      answer.article.remove();
      pendingText = text;
      ui.prompt.value = text;
      addError(await errorText(response));
      askForKey();
      return;
    }
    if (!response.ok) throw new Error(await errorText(response));
    for await (const event of events(response)) {
      if (event.error) throw new Error(event.error.message || "the server ended the answer");
      if (event.usage) usage = event.usage;
      for (const choice of event.choices || []) {
        const piece = (choice.delta && choice.delta.content) || "";
        if (piece !== "") {
          if (!first) first = performance.now();
          const follow = nearBottom();
          content += piece;
          chunks += 1;
          render(answer.body, content);
          if (follow) scrollDown();
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") {  // a failed turn stays in view, but is not sent again with the next one
      user.article.classList.add("dropped");
      if (content === "") {
        answer.article.remove();
      } else {
        answer.article.classList.add("dropped");
        finishAnswer(answer, meta, content, { chunks });
      }
      addError((e.message || String(e)) + " (this turn is left out of the conversation)");
      return;
    }
  } finally {
    setRunning(null);
    ui.prompt.focus();
  }
  if (controller.signal.aborted) finish = "stopped";
  finishAnswer(answer, meta, content, { usage, chunks, seconds: first ? (performance.now() - first) / 1000 : 0, finish });
  if (started === conversation) history.push({ role: "user", content: text }, { role: "assistant", content });
}

function finishAnswer(answer, meta, content, facts) {
  answer.article.classList.remove("streaming");
  if (content === "") answer.body.replaceChildren(el("div", "text muted", "(no answer)"));
  const parts = [];
  if (facts.usage) {
    const n = facts.usage.completion_tokens;
    parts.push(n + (n === 1 ? " token" : " tokens"));
    if (n > 1 && facts.seconds > 0) parts.push(((n - 1) / facts.seconds).toFixed(1) + " tokens/s");
  } else if (facts.chunks) {
    parts.push("≈" + facts.chunks + " tokens");
  }
  if (facts.finish === "length") parts.push("stopped at the token limit");
  if (facts.finish === "stopped") parts.push("stopped");
  meta.appendChild(el("span", "facts", parts.join(" · ")));
  if (content !== "") {
    const copy = el("button", "quiet small copy", "Copy");
    copy.type = "button";
    copy.addEventListener("click", () => copyText(content, copy));
    meta.appendChild(copy);
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {  // no clipboard API outside a secure context (plain http to another host)
    const area = el("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

function submit() {
  const text = ui.prompt.value;
  if (running || text.trim() === "") return;
  ui.prompt.value = "";
  pendingText = "";
  send(text);
}

function newConversation() {
  if (running) running.abort();
  conversation += 1;
  history = [];
  ui.conversation.querySelectorAll(".message").forEach((m) => m.remove());
  ui.empty.hidden = false;
  ui.prompt.focus();
}

function restoreDefaults() {
  for (const [id, value] of Object.entries(DEFAULTS)) $(id).value = value;
}

async function loadModelName() {
  try {
    const response = await fetch("v1/models", { headers: apiHeaders() });
    if (response.status === 401) {
      ui.model.textContent = "API key needed";
      askForKey();
      return;
    }
    if (!response.ok) throw new Error(await errorText(response));
    const list = await response.json();
    ui.model.textContent = (list.data && list.data[0] && list.data[0].id) || "unknown model";
  } catch (e) {
    ui.model.textContent = "offline";
    ui.model.title = e.message;
  }
}

function saveKey() {
  const key = ui.key.value.trim();
  if (key === "") return;
  sessionStorage.setItem(KEY_STORAGE, key);
  ui.key.value = "";
  ui.keyRow.hidden = true;
  loadModelName();
  if (pendingText !== "") submit();
  else ui.prompt.focus();
}

ui.form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
ui.prompt.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && running) running.abort();
});
ui.stop.addEventListener("click", () => { if (running) running.abort(); });
$("new-chat").addEventListener("click", newConversation);
$("defaults").addEventListener("click", restoreDefaults);
$("save-key").addEventListener("click", saveKey);
ui.key.addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    saveKey();
  }
});

// Keep the newest message in view when the conversation's box changes size (a panel opens, the window turns).
let atBottom = true;
ui.conversation.addEventListener("scroll", () => { atBottom = nearBottom(); });
new ResizeObserver(() => { if (atBottom) scrollDown(); }).observe(ui.conversation);

// Wide windows show the context box from the start; on phones both panels start closed.
if (window.matchMedia("(min-width: 761px)").matches) $("context-panel").open = true;
restoreDefaults();
loadModelName();
ui.prompt.focus();
