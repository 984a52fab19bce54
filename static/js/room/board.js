// The whiteboard of the room («Доска»): Excalidraw (static/vendor/board/, built from pinned
// packages by frontend/board/) bound to a Yjs document that the server stores like the shared
// documents (a document of kind "board"; realtime/docs/, server/domain/meeting/board.py):
//   board.get -> doc.open / doc.sync (standard Yjs sync messages) / doc.close.
// The Yjs document holds three maps: "elements" (element id -> the element's JSON with its
// version and its page), "pages" (page id -> {title, order}; page "1" exists without an
// entry) and "files" (file id -> {id, mimeType, dataURL, created}: pictures and formulas,
// written once). Local changes are found by element version and sent (one update in flight,
// the rest merged, as documents.js does); remote ones are reconciled into the scene with
// Excalidraw's reconcileElements (by version / versionNonce) and never enter the local undo.
// The vendor bundles are loaded when the board is first opened.
//
// Mounted by room.js: mountBoard(slot, {socket, t, request, isModerator, participants, toast, ...}).

import { h } from "./dom.js";
import { applySync, b64encode, call as wireCall, sleep, syncMessage } from "./wire.js";

const VENDOR = "/static/vendor/board/";
const REMOTE = "smo-remote";
const ACK_TIMEOUT_MS = 20000;
const PUSH_DELAY_MS = 50;
const FIRST_PAGE = "1";
const MAX_IMAGE_BYTES = 384 * 1024; // server/domain/meeting/board.py MAX_IMAGE_BYTES
const NS = "http://www.w3.org/2000/svg";

let vendor = null;
function loadVendor() {
  if (!vendor) {
    // Excalidraw's fonts come from our static files, never from a CDN.
    window.EXCALIDRAW_ASSET_PATH = new URL(VENDOR, window.location.origin).href;
    for (const [key, href] of [["board-vendor-css", `${VENDOR}board.css`], ["board-css", "/static/css/board.css"]]) {
      if (!document.querySelector(`link[data-smo="${key}"]`)) {
        document.head.append(h("link", { rel: "stylesheet", href, dataset: { smo: key } }));
      }
    }
    // Excalidraw from the board bundle; Yjs and the sync messages from the editor bundle, so the
    // page has one Yjs (documents.js uses the same).
    vendor = Promise.all([import(`${VENDOR}board.js`), import("/static/vendor/editor/editor.js")]).then(([X, E]) => ({
      ...X, Y: E.Y, syncProtocol: E.syncProtocol, encoding: E.encoding, decoding: E.decoding,
    }));
  }
  return vendor;
}

const call = (socket, name, payload) => wireCall(socket, name, payload, ACK_TIMEOUT_MS);

function randomId(length = 20) {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => abc[b % abc.length]).join("");
}

function penIcon() {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  for (const d of ["M3 21l3.5-1 11-11-2.5-2.5-11 11z", "M14 5l2.5-2.5 2.5 2.5L16.5 7.5", "M13 21h8"]) {
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** An element as Excalidraw knows it (without our "page"). */
function sceneElement(value) {
  const { page, ...element } = value;
  return element;
}

class BoardPanel {
  constructor(slot, ctx) {
    this.slot = slot;
    this.ctx = ctx;
    this.t = ctx.t || ((key) => key);
    this.socket = ctx.socket;
    this.page = FIRST_PAGE;
    this.known = new Map(); // element id -> version last seen in the Yjs document
    this.rejectedFiles = new Set(); // pictures over the limit: neither they nor their elements are sent
    this.pending = [];
    this.inflight = false;
    this.canEdit = false;
    this.info = null;
    this.api = null;
    this.opened = false;
    this.build();
    this.bindSocket();
  }

  build() {
    const t = this.t;
    this.title = h("h2", { class: "board-title", id: "board-h" }, t("board.title"));
    this.badge = h("span", { class: "board-badge" });
    this.pageNav = h("nav", { class: "board-pages", "aria-label": t("board.pages") });
    this.formulaInput = h("input", {
      type: "text", class: "board-formula-input", maxlength: 500, placeholder: t("board.formula_prompt"),
      "aria-label": t("board.formula_prompt"),
    });
    this.formulaForm = h("form", { class: "board-formula", hidden: true, onsubmit: (e) => { e.preventDefault(); this.insertFormula(); } },
      this.formulaInput, h("button", { type: "submit" }, t("board.formula_insert")));
    this.formulaButton = h("button", {
      type: "button", class: "board-formula-toggle", "aria-expanded": "false",
      onclick: () => {
        this.formulaForm.hidden = !this.formulaForm.hidden;
        this.formulaButton.setAttribute("aria-expanded", this.formulaForm.hidden ? "false" : "true");
        if (!this.formulaForm.hidden) this.formulaInput.focus();
      },
    }, "∑ ", t("board.formula"));
    this.status = h("p", { class: "board-status", role: "status" });
    this.host = h("div", { class: "board-canvas" }, h("p", { class: "muted board-loading" }, t("board.loading")));
    this.downloads = h("span", { class: "board-downloads" });
    this.moderation = h("span", { class: "board-moderation" });
    this.closeButton = h("button", { type: "button", class: "board-close", onclick: () => this.close() }, t("board.close"));
    this.overlay = h("section", { class: "board-overlay", id: "board", role: "dialog", "aria-labelledby": "board-h", hidden: true },
      h("header", { class: "board-head" }, this.title, this.badge, this.pageNav, this.formulaButton, this.formulaForm, this.status, this.downloads, this.moderation, this.closeButton),
      this.host);
    this.slot.replaceChildren(this.overlay);
    this.slot.hidden = false;
    // The «Доска» button of the control bar.
    const bar = document.getElementById("bar-panels");
    if (bar && typeof this.ctx.barButton === "function") {
      this.button = this.ctx.barButton({
        id: "board-button", label: t("board.button"), short: t("board.button"), iconName: "document",
        onclick: () => (this.opened ? this.close() : this.open()), extra: { "aria-controls": "board", "aria-expanded": "false", "data-board-button": "" },
      });
      const old = this.button.querySelector("svg");
      if (old) old.replaceWith(penIcon());
      bar.append(this.button);
    }
    // Moved into a breakout group (or back): the room shows where one now is (groups.js).
    document.addEventListener("smo:room-changed", () => {
      if (this.opened) this.close();
    });
    // Keys typed on the board are the board's (Excalidraw's tool letters: "d" is the diamond,
    // not the documents panel): they do not reach the room's shortcuts on the document.
    this.overlay.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Escape" && this.formulaForm.contains(e.target)) {
        this.formulaForm.hidden = true;
        this.formulaButton.setAttribute("aria-expanded", "false");
        this.formulaButton.focus();
      }
    });
  }

  bindSocket() {
    this.handlers = {
      "doc.sync": (msg) => {
        if (msg && this.info && msg.doc_id === this.info.id && this.ydoc) this.receive(msg.data);
      },
      "doc.changed": (info) => {
        if (info && this.info && info.id === this.info.id) this.refreshRights();
      },
      disconnect: () => {
        if (this.ydoc) this.status.textContent = this.t("board.offline");
      },
      connect: async () => {
        this.status.textContent = "";
        if (this.ydoc) await this.openDoc();
      },
    };
    for (const [name, fn] of Object.entries(this.handlers)) this.socket.on(name, fn);
  }

  async open() {
    this.opened = true;
    this.overlay.hidden = false;
    document.body.classList.add("board-open");
    if (this.button) this.button.setAttribute("aria-expanded", "true");
    if (!this.ydoc) await this.start();
    this.closeButton.focus({ preventScroll: true });
  }

  close() {
    this.opened = false;
    this.overlay.hidden = true;
    document.body.classList.remove("board-open");
    if (this.button) {
      this.button.setAttribute("aria-expanded", "false");
      this.button.focus({ preventScroll: true });
    }
  }

  async start() {
    this.B = await loadVendor();
    let ack;
    for (let attempt = 0; attempt < 40; attempt++) {
      ack = await call(this.socket, "board.get", {});
      if (ack.ok || !ack.error || !["not_joined", "offline", "timeout"].includes(ack.error.code)) break;
      await sleep(300);
    }
    if (!ack.ok) {
      this.showError(ack.error);
      return;
    }
    this.info = ack.document;
    this.canEdit = Boolean(ack.can_edit);
    const B = this.B;
    this.ydoc = new B.Y.Doc();
    this.elements = this.ydoc.getMap("elements");
    this.pages = this.ydoc.getMap("pages");
    this.files = this.ydoc.getMap("files");
    this.ydoc.on("update", (update, origin) => {
      if (origin !== REMOTE && this.canEdit) {
        this.pending.push(update);
        this.flush();
      }
    });
    this.elements.observe((event) => {
      if (event.transaction.origin === REMOTE) this.applyRemote();
    });
    this.files.observe((event) => {
      if (event.transaction.origin !== REMOTE || !this.api) return;
      const added = [];
      for (const key of event.keysChanged) {
        const file = this.files.get(key);
        if (file && file.dataURL) added.push(file);
      }
      if (added.length) this.api.addFiles(added);
    });
    this.pages.observe(() => this.renderPages());
    if (!(await this.openDoc())) return;
    this.mountExcalidraw();
    this.renderPages();
    this.renderMeta();
    window.smoBoard = this; // diagnostics and the browser tests
  }

  /** doc.open (also after a reconnect or a rejection): the server's state and our step 2. */
  async openDoc() {
    let ack;
    for (let attempt = 0; attempt < 40; attempt++) {
      ack = await call(this.socket, "doc.open", { doc_id: this.info.id });
      if (ack.ok || !ack.error || !["not_joined", "offline", "timeout"].includes(ack.error.code)) break;
      await sleep(300);
    }
    if (!ack.ok) {
      this.showError(ack.error);
      return false;
    }
    this.info = ack.document;
    this.canEdit = Boolean(ack.can_edit);
    this.receive(ack.sync[1]);
    this.receive(ack.sync[0]);
    this.inflight = false;
    this.renderMeta();
    this.flush();
    return true;
  }

  receive(data) {
    // Our step 2, if any: what we have that the server lacks (drawn while offline).
    const update = applySync(this.B, data, this.ydoc, REMOTE);
    if (update && this.canEdit) {
      this.pending.push(update);
      this.flush();
    }
  }


  async flush() {
    if (this.inflight || this.pending.length === 0 || !this.socket.connected) return;
    this.inflight = true;
    const { update, data } = syncMessage(this.B, this.pending);
    this.pending = [];
    const ack = await call(this.socket, "doc.sync", { doc_id: this.info.id, data });
    if (ack.ok) {
      this.inflight = false;
      this.flush();
      return;
    }
    const code = ack.error && ack.error.code;
    if (code === "offline" || code === "timeout" || code === "not_joined") {
      this.pending.unshift(update); // sent again after the reconnect's re-open
      this.inflight = false;
      return;
    }
    // Refused (no right, too large, malformed): start again from the server's copy.
    this.showError(ack.error);
    this.restart();
  }

  /** Throw away the local copy and take the server's (after a refused update). */
  async restart() {
    const B = this.B;
    this.pending = [];
    this.inflight = true;
    const old = this.ydoc;
    this.ydoc = null;
    old.destroy();
    this.known.clear();
    if (this.api) this.api.updateScene({ elements: [], captureUpdate: B.CaptureUpdateAction.NEVER });
    this.root.unmount();
    this.api = null;
    this.host.replaceChildren();
    await this.start();
  }

  // --- Excalidraw ---------------------------------------------------------------------------
  excalidrawProps() {
    return {
      excalidrawAPI: (api) => {
        this.api = api;
      },
      initialData: {
        elements: this.pageElements(this.page),
        files: this.allFiles(),
        appState: { viewBackgroundColor: "#ffffff", currentItemFontFamily: 1 },
        scrollToContent: true,
      },
      onChange: () => this.schedulePush(),
      viewModeEnabled: !this.canEdit,
      langCode: "ru-RU",
      name: this.info ? this.info.title : "board",
      UIOptions: {
        // Exports come from the server (SVG/PNG per page, PDF): the header's links.
        canvasActions: { loadScene: false, saveToActiveFile: false, export: false, toggleTheme: false, saveAsImage: false },
        tools: { image: true },
      },
      detectScroll: true,
      handleKeyboardGlobally: false,
    };
  }

  mountExcalidraw() {
    const B = this.B;
    this.host.replaceChildren();
    const inner = h("div", { class: "board-excalidraw" });
    this.host.append(inner);
    this.root = B.createRoot(inner);
    this.renderExcalidraw();
  }

  renderExcalidraw() {
    const B = this.B;
    this.root.render(B.React.createElement(B.Excalidraw, this.excalidrawProps()));
  }

  pageElements(page) {
    const out = [];
    this.elements.forEach((value, id) => {
      if (value && typeof value === "object") {
        this.known.set(id, value.version);
        if ((value.page || FIRST_PAGE) === page) out.push(sceneElement(value));
      }
    });
    return this.B.restoreElements(out, null);
  }

  allFiles() {
    const out = {};
    this.files.forEach((file, id) => {
      if (file && file.dataURL) out[id] = file;
    });
    return out;
  }

  applyRemote() {
    const api = this.api;
    if (!api) return;
    const B = this.B;
    const remote = this.pageElements(this.page);
    const merged = B.reconcileElements(api.getSceneElementsIncludingDeleted(), remote, api.getAppState());
    api.updateScene({ elements: merged, captureUpdate: B.CaptureUpdateAction.NEVER });
    // Pictures whose element came first (Excalidraw loads a file for the elements it has).
    const have = api.getFiles();
    const missing = [];
    for (const e of remote) {
      const file = e.type === "image" && e.fileId && !have[e.fileId] ? this.files.get(e.fileId) : null;
      if (file && file.dataURL) missing.push(file);
    }
    if (missing.length) api.addFiles(missing);
    this.schedulePush(); // where ours won the reconciliation, the others need ours
  }

  schedulePush() {
    if (!this.canEdit || this.pushTimer) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      this.pushLocal();
    }, PUSH_DELAY_MS);
  }

  /** Send what changed locally: new pictures, then every element whose version is new. */
  pushLocal() {
    const api = this.api;
    if (!api || !this.ydoc || !this.canEdit) return;
    const files = api.getFiles();
    const newFiles = [];
    for (const [id, file] of Object.entries(files)) {
      if (this.files.has(id) || this.rejectedFiles.has(id) || !file || !file.dataURL) continue;
      const bytes = Math.floor(((file.dataURL.length - file.dataURL.indexOf(",") - 1) * 3) / 4);
      if (bytes > MAX_IMAGE_BYTES) {
        this.rejectedFiles.add(id);
        this.toast(this.t("board.image_too_large", { limit: Math.round(MAX_IMAGE_BYTES / 1024) }));
        continue;
      }
      newFiles.push({ id, mimeType: file.mimeType, dataURL: file.dataURL, created: file.created || Date.now() });
    }
    const changed = [];
    for (const element of api.getSceneElementsIncludingDeleted()) {
      if (this.known.get(element.id) === element.version) continue;
      if (element.type === "image" && !element.fileId) continue; // still being read: sent with its picture
      if (element.type === "image" && element.fileId && (this.rejectedFiles.has(element.fileId) || (!this.files.has(element.fileId) && !newFiles.some((f) => f.id === element.fileId)))) continue;
      const stored = this.elements.get(element.id);
      changed.push({ ...element, page: stored && stored.page ? stored.page : this.page });
    }
    if (!newFiles.length && !changed.length) return;
    this.ydoc.transact(() => {
      for (const file of newFiles) this.files.set(file.id, file);
      for (const value of changed) {
        this.elements.set(value.id, JSON.parse(JSON.stringify(value)));
        this.known.set(value.id, value.version);
      }
    });
  }

  // --- pages --------------------------------------------------------------------------------
  pageList() {
    const list = [{ id: FIRST_PAGE, title: this.t("board.page", { n: 1 }), order: -Infinity }];
    if (this.pages) {
      this.pages.forEach((value, id) => {
        if (value && typeof value.title === "string" && id !== FIRST_PAGE) list.push({ id, title: value.title, order: Number(value.order) || 0 });
      });
    }
    // The server's order too (server/domain/meeting/board.py read_pages): by order, then id.
    return list.sort((a, b) => (a.order === b.order ? (a.id < b.id ? -1 : 1) : a.order - b.order));
  }

  renderPages() {
    const pages = this.pageList();
    const buttons = pages.map((p) =>
      h("button", {
        type: "button", class: "board-page", "aria-current": p.id === this.page ? "page" : false,
        "data-page": p.id, onclick: () => this.showPage(p.id),
      }, p.title));
    if (this.canEdit) {
      buttons.push(h("button", { type: "button", class: "board-page-add", title: this.t("board.add_page"), "aria-label": this.t("board.add_page"), onclick: () => this.addPage() }, "+"));
    }
    this.pageNav.replaceChildren(...buttons);
    this.renderDownloads();
  }

  renderDownloads() {
    if (!this.info || !this.ctx.meetingId) return;
    const base = `/meetings/${this.ctx.meetingId}/documents/${this.info.id}/board`;
    const n = Math.max(1, this.pageList().findIndex((p) => p.id === this.page) + 1);
    this.downloads.replaceChildren(
      `${this.t("board.download")}: `,
      h("a", { href: `${base}/${n}.png`, download: "" }, "PNG"), " · ",
      h("a", { href: `${base}/${n}.svg`, download: "" }, "SVG"), " · ",
      h("a", { href: `${base}.pdf`, download: "" }, "PDF"),
    );
  }

  addPage() {
    const pages = this.pageList();
    const id = randomId(12);
    const order = Math.max(0, ...pages.map((p) => (Number.isFinite(p.order) ? p.order : 0))) + 1;
    this.pages.set(id, { title: this.t("board.page", { n: pages.length + 1 }), order });
    this.showPage(id);
  }

  showPage(id) {
    if (!this.api) return;
    this.pushLocal(); // nothing of the page we leave stays unsent
    this.page = id;
    const B = this.B;
    this.api.updateScene({ elements: this.pageElements(id), captureUpdate: B.CaptureUpdateAction.NEVER });
    if (this.api.history && typeof this.api.history.clear === "function") this.api.history.clear();
    this.renderPages();
  }

  // --- formulas -----------------------------------------------------------------------------
  /** TeX -> MathJax SVG (glyphs as paths) -> a PNG picture element in the middle of the view. */
  async insertFormula() {
    const tex = this.formulaInput.value.trim();
    if (!tex || !this.api || !this.canEdit) return;
    let rendered;
    try {
      const F = await import(`${VENDOR}formula.js`);
      rendered = F.texToSvg(tex);
    } catch (err) {
      this.status.textContent = this.t("board.formula_error");
      return;
    }
    const scale = 2;
    const svgUrl = `data:image/svg+xml;base64,${b64encode(new TextEncoder().encode(rendered.svg))}`;
    const img = new Image();
    img.src = svgUrl;
    try {
      await img.decode();
    } catch {
      this.status.textContent = this.t("board.formula_error");
      return;
    }
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(rendered.width * scale);
    canvas.height = Math.ceil(rendered.height * scale);
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    const dataURL = canvas.toDataURL("image/png");
    const fileId = randomId(20);
    const B = this.B;
    const api = this.api;
    const state = api.getAppState();
    const zoom = (state.zoom && state.zoom.value) || 1;
    const x = -state.scrollX + state.width / 2 / zoom - rendered.width / 2;
    const y = -state.scrollY + state.height / 2 / zoom - rendered.height / 2;
    const [element] = B.convertToExcalidrawElements([
      { type: "image", fileId, x, y, width: rendered.width, height: rendered.height, status: "saved" },
    ]);
    const withTex = { ...element, status: "saved", customData: { tex } };
    api.updateScene({
      elements: [...api.getSceneElementsIncludingDeleted(), withTex],
      captureUpdate: B.CaptureUpdateAction.IMMEDIATELY,
    });
    // After the element: Excalidraw loads a file into its image cache for the elements it has.
    api.addFiles([{ id: fileId, mimeType: "image/png", dataURL, created: Date.now() }]);
    this.formulaInput.value = "";
    this.formulaForm.hidden = true;
    this.formulaButton.setAttribute("aria-expanded", "false");
    this.status.textContent = "";
    this.schedulePush();
  }

  // --- rights and messages ------------------------------------------------------------------
  async refreshRights() {
    const ack = await call(this.socket, "board.get", {});
    if (!ack.ok) return;
    const could = this.canEdit;
    this.info = ack.document;
    this.canEdit = Boolean(ack.can_edit);
    if (could !== this.canEdit) {
      if (this.root) this.renderExcalidraw();
      this.renderPages();
      if (this.canEdit) this.schedulePush();
    }
    this.renderMeta();
  }

  /** Moderators: who draws (the same edit policy as the documents', doc.policy). */
  renderModeration() {
    const moderator = typeof this.ctx.isModerator === "function" && this.ctx.isModerator();
    if (!moderator || !this.info) {
      this.moderation.replaceChildren();
      return;
    }
    const t = this.t;
    const info = this.info;
    const select = h("select", { class: "board-policy", "aria-label": t("board.policy") },
      ...["everyone", "moderators", "named"].map((p) => h("option", { value: p, selected: info.edit_policy === p }, t(`docs.policy.${p}`))));
    const people = Object.entries(this.ctx.participants || {}).filter(([, p]) => !p.moderator && !p.removed);
    const editors = new Set(info.editors || []);
    const boxes = h("details", { class: "board-editors", hidden: info.edit_policy !== "named" },
      h("summary", {}, t("docs.policy.named")),
      ...people.map(([key, p]) => h("label", {}, h("input", { type: "checkbox", value: key, checked: editors.has(key) }), " ", p.short_name || p.name)));
    const save = async () => {
      boxes.hidden = select.value !== "named";
      const chosen = [...boxes.querySelectorAll("input:checked")].map((i) => i.value);
      const ack = await this.ctx.request("doc.policy", { doc_id: info.id, edit_policy: select.value, editors: chosen });
      if (ack.ok) this.info = ack.document;
    };
    select.addEventListener("change", save);
    boxes.addEventListener("change", save);
    this.moderation.replaceChildren(h("label", {}, t("board.policy"), " ", select), boxes);
  }

  renderMeta() {
    this.renderModeration();
    this.renderDownloads();
    this.badge.textContent = this.canEdit ? this.t("board.can_edit") : this.t("board.read_only");
    this.overlay.dataset.canEdit = this.canEdit ? "true" : "false";
    this.formulaButton.hidden = !this.canEdit;
    if (!this.canEdit) this.formulaForm.hidden = true;
  }

  toast(text) {
    if (typeof this.ctx.toast === "function") this.ctx.toast(text);
    else this.status.textContent = text;
  }

  showError(error) {
    const text = error && (error.message || error.code);
    if (text) this.toast(text);
  }

  // --- for the browser tests and diagnostics ------------------------------------------------
  visibleElements() {
    if (!this.api) return [];
    return this.api.getSceneElements().map((e) => ({ id: e.id, type: e.type, fileId: e.fileId || null, tex: (e.customData && e.customData.tex) || null }));
  }
}

export async function mountBoard(slot, ctx) {
  const panel = new BoardPanel(slot, ctx);
  return panel;
}

export default mountBoard;
