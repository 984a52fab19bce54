// The documents panel of the room: the meeting's shared documents (notes, draft decisions),
// edited together in ProseMirror bound to Yjs (y-prosemirror), synchronised with the standard
// Yjs sync and awareness messages carried over the room's Socket.IO connection:
//   doc.list / doc.open / doc.sync / doc.awareness / doc.close  (see realtime/docs/sync.py).
// One update is in flight per document; what is typed meanwhile is merged and sent next, so the
// server always receives a client's changes in order. User data reaches the DOM only through
// textContent (dom.js h(), and y-prosemirror's cursor labels).
//
// Mounted by room.js: mountDocuments(container, {socket, meetingId, me, participants, t,
// request, isModerator, subscribe}).

import { h } from "./dom.js";
import { applySync, b64decode, b64encode, call as wireCall, sleep, syncMessage } from "./wire.js";
import * as E from "/static/vendor/editor/editor.js";

const REMOTE = "smo-remote";
const ACK_TIMEOUT_MS = 15000;
const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0969da", "#bc4c00"];

const schema = new E.Schema({
  nodes: E.addListNodes(E.basicSchema.spec.nodes, "paragraph block*", "block"),
  marks: E.basicSchema.spec.marks,
});

function colorFor(key) {
  let hash = 0;
  for (const ch of String(key)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[hash % COLORS.length];
}

const call = (socket, name, payload) => wireCall(socket, name, payload, ACK_TIMEOUT_MS);

/** One open document: a Y.Doc, its awareness, the editor view and the update queue. */
class DocSession {
  constructor(panel, info) {
    this.panel = panel;
    this.info = info;
    this.socket = panel.ctx.socket;
    this.canEdit = false;
    this.closed = false;
    this.pending = [];
    this.inflight = false;
    this.ydoc = new E.Y.Doc();
    this.fragment = this.ydoc.getXmlFragment("prosemirror");
    this.awareness = new E.awarenessProtocol.Awareness(this.ydoc);
    const me = panel.ctx.me || "";
    this.awareness.setLocalStateField("user", { name: panel.myName(), color: colorFor(me) });
    // Named listeners: close() takes them off before anything is destroyed.
    this.onDocUpdate = (update, origin) => {
      if (this.closed) return;
      if (origin !== REMOTE && this.canEdit) {
        this.pending.push(update);
        this.flush();
      }
    };
    this.onAwarenessUpdate = ({ added, updated, removed }, origin) => {
      if (this.closed || origin === REMOTE) return;
      const ids = [...added, ...updated, ...removed].filter((id) => id === this.ydoc.clientID);
      if (ids.length) this.sendAwareness(ids);
    };
    this.onAwarenessChange = () => {
      if (!this.closed) panel.renderPresence(this);
    };
    this.ydoc.on("update", this.onDocUpdate);
    this.awareness.on("update", this.onAwarenessUpdate);
    this.awareness.on("change", this.onAwarenessChange);
  }

  /** The editor view, unless it is gone (closed session, destroyed view). */
  liveView() {
    const view = this.view;
    return !this.closed && view && !view.isDestroyed && view.docView ? view : null;
  }

  mount(host) {
    const undoKeys = { "Mod-z": E.undo, "Mod-y": E.redo, "Mod-Shift-z": E.redo };
    const markKeys = {
      "Mod-b": E.toggleMark(schema.marks.strong),
      "Mod-i": E.toggleMark(schema.marks.em),
      Enter: E.splitListItem(schema.nodes.list_item),
      "Mod-[": E.liftListItem(schema.nodes.list_item),
      "Mod-]": E.sinkListItem(schema.nodes.list_item),
    };
    this.view = new E.EditorView(host, {
      state: E.EditorState.create({
        schema,
        plugins: [
          E.ySyncPlugin(this.fragment),
          E.yCursorPlugin(this.awareness),
          E.yUndoPlugin(),
          E.keymap(undoKeys),
          E.keymap(markKeys),
          E.keymap(E.baseKeymap),
        ],
      }),
      // Editable offline too: Yjs keeps the edits and they are sent after the reconnect.
      editable: () => this.canEdit,
      // y-prosemirror dispatches from timers (the cursor plugin's awareness refresh): one that
      // fires after close() must not reach the destroyed view.
      dispatchTransaction: (tr) => {
        const view = this.liveView();
        if (view) view.updateState(view.state.apply(tr));
      },
      attributes: { "aria-label": this.info.title, class: "doc-editor" },
    });
  }

  /** Open (or re-open after a reconnect): the server's step 2 and our answer to its step 1. */
  async open() {
    let ack;
    for (let attempt = 0; attempt < 40; attempt++) {
      ack = await call(this.socket, "doc.open", { doc_id: this.info.id });
      if (ack.ok || !ack.error || !["not_joined", "offline", "timeout"].includes(ack.error.code)) break;
      await sleep(300); // the room joins again after a reconnect
      if (this.closed) return false;
    }
    if (!ack.ok) {
      this.panel.showError(ack.error);
      return false;
    }
    this.info = ack.document;
    this.canEdit = Boolean(ack.can_edit);
    this.receive(ack.sync[1]);
    this.receive(ack.sync[0]);
    if (ack.awareness) this.receiveAwareness(ack.awareness);
    if (this.closed) return false;
    const view = this.liveView();
    if (view) view.setProps({ editable: () => this.canEdit });
    this.sendAwareness([this.ydoc.clientID]);
    this.inflight = false;
    this.flush();
    return true;
  }

  receive(data) {
    if (this.closed) return;
    // Our step 2, if any: whatever we have that the server lacks (edits made while offline).
    const update = applySync(E, data, this.ydoc, REMOTE);
    if (update && this.canEdit) {
      this.pending.push(update);
      this.flush();
    }
  }


  receiveAwareness(data) {
    if (this.closed) return;
    const decoder = E.decoding.createDecoder(b64decode(data));
    if (E.decoding.readVarUint(decoder) !== 1) return;
    E.awarenessProtocol.applyAwarenessUpdate(this.awareness, E.decoding.readVarUint8Array(decoder), REMOTE);
  }

  async flush() {
    if (this.inflight || this.closed || this.pending.length === 0 || !this.socket.connected) return;
    this.inflight = true;
    const { update, data } = syncMessage(E, this.pending);
    this.pending = [];
    const ack = await call(this.socket, "doc.sync", { doc_id: this.info.id, data });
    if (this.closed) return;
    if (ack.ok) {
      this.inflight = false;
      this.flush();
      return;
    }
    const code = ack.error && ack.error.code;
    if (code === "offline" || code === "timeout" || code === "not_joined") {
      // Kept: sent again after the reconnect's re-open (as part of our step 2).
      this.pending.unshift(update);
      this.inflight = false;
      return;
    }
    // Rejected (no right, out of sync, too large...): start again from the server's copy.
    this.panel.showError(ack.error);
    this.panel.reopen(this);
  }

  sendAwareness(ids) {
    if (this.closed || !this.socket.connected) return;
    const enc = E.encoding.createEncoder();
    E.encoding.writeVarUint(enc, 1);
    E.encoding.writeVarUint8Array(enc, E.awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids));
    call(this.socket, "doc.awareness", { doc_id: this.info.id, data: b64encode(E.encoding.toUint8Array(enc)) });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    // The server drops this connection's cursor on doc.close and tells the others.
    call(this.socket, "doc.close", { doc_id: this.info.id });
    // Listeners off first, then the view (its plugins unsubscribe from the awareness), then
    // the awareness and the document: nothing can call into a destroyed view afterwards.
    this.ydoc.off("update", this.onDocUpdate);
    this.awareness.off("update", this.onAwarenessUpdate);
    this.awareness.off("change", this.onAwarenessChange);
    const view = this.view;
    this.view = null;
    if (view && !view.isDestroyed) view.destroy();
    E.awarenessProtocol.removeAwarenessStates(this.awareness, [this.ydoc.clientID], "close");
    this.awareness.destroy();
    this.ydoc.destroy();
  }
}

function toolbar(panel) {
  const run = (command) => (event) => {
    event.preventDefault();
    const view = panel.session && panel.session.liveView();
    if (!view) return;
    command(view.state, view.dispatch, view);
    view.focus();
  };
  const link = (state, dispatch) => {
    const href = window.prompt(panel.t("docs.link_prompt"), "https://");
    if (!href || !/^(https?:|mailto:)/i.test(href.trim())) return false;
    return E.toggleMark(schema.marks.link, { href: href.trim() })(state, dispatch);
  };
  const button = (label, text, command) =>
    h("button", { type: "button", class: "doc-tool", title: label, "aria-label": label, onmousedown: run(command) }, text);
  return h(
    "div",
    { class: "doc-toolbar", role: "toolbar", "aria-label": panel.t("docs.panel") },
    button(panel.t("docs.bold"), "Ж", E.toggleMark(schema.marks.strong)),
    button(panel.t("docs.italic"), "К", E.toggleMark(schema.marks.em)),
    button(panel.t("docs.heading"), panel.t("docs.heading_short"), E.setBlockType(schema.nodes.heading, { level: 2 })),
    button(panel.t("docs.paragraph"), panel.t("docs.paragraph_short"), E.setBlockType(schema.nodes.paragraph)),
    button(panel.t("docs.bullet_list"), "•", E.wrapInList(schema.nodes.bullet_list)),
    button(panel.t("docs.ordered_list"), "1.", E.wrapInList(schema.nodes.ordered_list)),
    button(panel.t("docs.link"), panel.t("docs.link_short"), link),
    button(panel.t("docs.undo"), "↶", E.undo),
    button(panel.t("docs.redo"), "↷", E.redo),
  );
}

class DocumentsPanel {
  constructor(container, ctx) {
    this.container = container;
    this.ctx = ctx;
    this.t = ctx.t || ((key) => key);
    this.session = null;
    this.documents = [];
    this.reopens = [];
    this.list = h("ul", { class: "doc-list", role: "list" });
    this.title = h("h3", { class: "doc-title" });
    this.badge = h("span", { class: "doc-badge" });
    this.presence = h("p", { class: "doc-presence muted", "aria-live": "polite" });
    this.status = h("p", { class: "doc-status", role: "status" });
    this.editorHost = h("div", { class: "doc-editor-host" });
    this.downloads = h("p", { class: "doc-downloads" });
    this.moderation = h("div", { class: "doc-moderation" });
    container.append(
      h(
        "div",
        { class: "documents-panel" },
        h("nav", { class: "doc-nav", "aria-label": this.t("docs.panel") }, this.list),
        h(
          "div",
          { class: "doc-main" },
          h("div", { class: "doc-head" }, this.title, this.badge),
          toolbar(this),
          this.editorHost,
          this.presence,
          this.status,
          this.downloads,
          this.moderation,
        ),
      ),
    );
    this.bindSocket();
  }

  myName() {
    const me = this.ctx.me;
    const person = me && this.ctx.participants ? this.ctx.participants[me] : null;
    return (person && (person.short_name || person.name)) || "";
  }

  bindSocket() {
    const socket = this.ctx.socket;
    const current = (docId) => {
      const s = this.session;
      return !this.destroyed && s && !s.closed && s.info.id === docId ? s : null;
    };
    this.handlers = {
      "doc.sync": (msg) => {
        const s = msg && current(msg.doc_id);
        if (s) s.receive(msg.data);
      },
      "doc.awareness": (msg) => {
        const s = msg && current(msg.doc_id);
        if (s) s.receiveAwareness(msg.data);
      },
      "doc.changed": () => {
        if (!this.destroyed) this.load(false);
      },
      disconnect: () => {
        if (!this.destroyed) this.status.textContent = this.t("docs.offline");
      },
      connect: async () => {
        if (this.destroyed) return;
        this.status.textContent = "";
        if (this.session && !this.session.closed) await this.session.open();
      },
    };
    for (const [name, fn] of Object.entries(this.handlers)) socket.on(name, fn);
    // Leaving the page («Покинуть заседание», navigation, closing the tab): tear down once.
    this.onLeave = () => this.destroy();
    window.addEventListener("beforeunload", this.onLeave);
    window.addEventListener("pagehide", this.onLeave);
  }

  /** Unsubscribe from the socket and the window, then close the open document. */
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    const socket = this.ctx.socket;
    for (const [name, fn] of Object.entries(this.handlers || {})) socket.off(name, fn);
    window.removeEventListener("beforeunload", this.onLeave);
    window.removeEventListener("pagehide", this.onLeave);
    const s = this.session;
    this.session = null;
    if (s) s.close();
  }

  async load(openFirst = true) {
    let ack;
    for (let attempt = 0; attempt < 40; attempt++) {
      ack = await call(this.ctx.socket, "doc.list", {});
      if (ack.ok || !ack.error || !["not_joined", "offline", "timeout"].includes(ack.error.code)) break;
      await sleep(300);
    }
    if (this.destroyed) return;
    if (!ack.ok) {
      this.showError(ack.error);
      return;
    }
    this.documents = ack.documents.filter((d) => d.kind !== "board"); // the board has its own panel (board.js)
    this.renderList();
    if (openFirst && !this.session && this.documents.length) await this.open(this.documents[0]);
    else if (this.session) this.renderMeta();
  }

  renderList() {
    this.list.replaceChildren(
      ...this.documents.map((d) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "doc-link",
              "aria-current": this.session && this.session.info.id === d.id ? "true" : false,
              onclick: () => this.open(d),
            },
            d.title,
          ),
        ),
      ),
    );
  }

  async open(info) {
    if (this.destroyed) return;
    if (this.session) this.session.close();
    const session = new DocSession(this, info);
    this.session = session;
    this.editorHost.replaceChildren();
    session.mount(this.editorHost);
    this.renderList();
    this.renderMeta();
    await session.open();
    if (this.session === session) this.renderMeta();
  }

  reopen(session) {
    const now = Date.now();
    this.reopens = this.reopens.filter((at) => now - at < 60000);
    if (this.reopens.length >= 3) return; // do not loop: the next page load starts afresh
    this.reopens.push(now);
    if (!this.destroyed && this.session === session && !session.closed) this.open(session.info);
  }

  renderMeta() {
    const s = this.session;
    if (!s) return;
    const meetingId = this.ctx.meetingId;
    this.title.textContent = s.info.title;
    this.badge.textContent = s.canEdit ? this.t("docs.can_edit") : this.t("docs.read_only");
    this.downloads.replaceChildren(
      h("a", { href: `/meetings/${meetingId}/documents/${s.info.id}.docx`, download: "" }, this.t("docs.download_docx")),
      " · ",
      h("a", { href: `/meetings/${meetingId}/documents/${s.info.id}.md`, download: "" }, this.t("docs.download_md")),
    );
    this.renderModeration();
  }

  renderModeration() {
    const s = this.session;
    const moderator = typeof this.ctx.isModerator === "function" && this.ctx.isModerator();
    if (!s || !moderator) {
      this.moderation.replaceChildren();
      return;
    }
    const select = h(
      "select",
      { "aria-label": this.t("docs.policy") },
      ...["everyone", "moderators", "named"].map((p) =>
        h("option", { value: p, selected: s.info.edit_policy === p }, this.t(`docs.policy.${p}`)),
      ),
    );
    const people = Object.entries(this.ctx.participants || {}).filter(([, p]) => !p.moderator && !p.removed);
    const editors = new Set(s.info.editors || []);
    const boxes = h(
      "fieldset",
      { class: "doc-editors", hidden: s.info.edit_policy !== "named" },
      ...people.map(([key, p]) =>
        h("label", {}, h("input", { type: "checkbox", value: key, checked: editors.has(key) }), " ", p.short_name || p.name),
      ),
    );
    const save = async () => {
      boxes.hidden = select.value !== "named";
      const chosen = [...boxes.querySelectorAll("input:checked")].map((i) => i.value);
      const ack = await this.ctx.request("doc.policy", { doc_id: s.info.id, edit_policy: select.value, editors: chosen });
      if (ack.ok) s.info = ack.document;
    };
    select.addEventListener("change", save);
    boxes.addEventListener("change", save);
    const title = h("input", { type: "text", maxlength: 300, placeholder: this.t("docs.new_title"), "aria-label": this.t("docs.new_title") });
    const add = async (event) => {
      event.preventDefault();
      if (!title.value.trim()) return;
      const ack = await this.ctx.request("doc.create", { title: title.value.trim() });
      if (ack.ok) {
        title.value = "";
        await this.load(false);
      }
    };
    this.moderation.replaceChildren(
      h("label", {}, this.t("docs.policy"), " ", select),
      boxes,
      h("form", { class: "doc-add", onsubmit: add }, title, h("button", { type: "submit" }, this.t("docs.add"))),
      h("button", { type: "button", onclick: () => this.ctx.request("doc.snapshot", {}) }, this.t("docs.snapshot")),
    );
  }

  renderPresence(session) {
    if (session !== this.session) return;
    const names = [];
    for (const [id, state] of session.awareness.getStates()) {
      if (id !== session.ydoc.clientID && state && state.user && state.user.name) names.push(state.user.name);
    }
    this.presence.textContent = names.length ? `${this.t("docs.editing_now")}: ${[...new Set(names)].join(", ")}` : "";
  }

  showError(error) {
    const text = error && (error.message || error.code);
    this.status.textContent = text ? `${this.t("docs.error")}: ${text}` : "";
  }
}

export async function mountDocuments(container, ctx) {
  if (!document.querySelector('link[data-smo="documents-css"]')) {
    document.head.append(h("link", { rel: "stylesheet", href: "/static/css/documents.css", dataset: { smo: "documents-css" } }));
  }
  const panel = new DocumentsPanel(container, ctx);
  await panel.load(true);
  return panel;
}

export default mountDocuments;
