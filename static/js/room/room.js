// The meeting room page: reads its configuration from data- attributes (no inline script),
// loads the message catalogue, connects, and mounts one module per panel.

import { Connection } from "./connection.js";
import { emptyState, fromSnapshot, applyEvent, isModerator as stateModerator } from "./state.js";
import { loadCatalogue, t, errorMessage } from "./i18n.js";
import { h } from "./dom.js";
import { icon } from "./icons.js";
import { createAgendaPanel } from "./agenda.js";
import { createParticipantsPanel } from "./participants.js";
import { createHandsPanel } from "./hands.js";
import { createChatPanel } from "./chat.js";
import { createPollsPanel } from "./polls.js";
import { createModerationPanel } from "./moderation.js";
import { createStagePanel } from "./stage.js";
import { barButton, createPanels } from "./panels.js";
import { createReactions } from "./reactions.js";
import { runPrejoin, stopTracks } from "./prejoin.js";

class Store {
  constructor(meetingId) {
    this.meetingId = meetingId;
    this.state = emptyState(meetingId);
    this.hasState = false;
    this.listeners = new Set();
  }

  get lastSeq() {
    return this.state.last_seq;
  }

  reset(snapshot) {
    this.state = fromSnapshot(this.meetingId, snapshot);
    this.hasState = true;
    this.notify(null);
  }

  apply(ev) {
    if (!this.hasState) return;
    if (applyEvent(this.state, ev)) this.notify(ev);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify(ev) {
    for (const fn of this.listeners) {
      try {
        fn(ev, this.state);
      } catch (err) {
        console.error("room listener failed", err);
      }
    }
  }
}

function toaster(region) {
  return (text, kind = "error") => {
    // The same message twice at once says nothing new.
    if ([...region.children].some((el) => el.textContent === text && !el.classList.contains("leaving"))) return;
    const toast = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
    region.appendChild(toast);
    setTimeout(() => toast.classList.add("leaving"), 5500);
    setTimeout(() => toast.remove(), 6000);
  };
}

function announcer(region) {
  return (text) => {
    region.textContent = "";
    // A fresh node so that screen readers announce a repeated text too.
    setTimeout(() => { region.textContent = text; }, 50);
  };
}

/** Load an optional panel module (media.js, documents.js); the room works without it. */
async function mountOptional(slot, path, names, ctx) {
  let mod;
  try {
    mod = await import(path);
  } catch {
    return false;
  }
  const mount = names.map((n) => mod[n]).find((fn) => typeof fn === "function");
  if (!mount) return false;
  try {
    slot.replaceChildren();
    await mount(slot, ctx);
    return true;
  } catch (err) {
    console.error(`${path} failed to mount`, err);
    slot.replaceChildren(h("p", { class: "muted slot-empty" }, t("room.slot.failed")));
    return false;
  }
}

/** Disclosure menus (<details class="menu">) close on Escape and on a click elsewhere. */
function setupMenus() {
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const open = document.activeElement && document.activeElement.closest("details.menu[open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (e) => {
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      if (!menu.contains(e.target)) menu.open = false;
    }
  });
}

async function main() {
  const root = document.getElementById("room");
  if (!root) return;
  const meetingId = Number(root.dataset.meetingId);
  await loadCatalogue(root.dataset.locale || "ru");

  const store = new Store(meetingId);
  const toast = toaster(document.getElementById("toasts"));
  const announce = announcer(document.getElementById("announcer"));
  const ctx = {
    store,
    t,
    toast,
    announce,
    conn: null,
    me: () => (ctx.conn && ctx.conn.participant) || root.dataset.me,
    isModerator: () => Boolean(ctx.conn && ctx.conn.moderator) || stateModerator(store.state, ctx.me()),
    live: () => store.state.meeting.status !== "ended",
    /** Run a room action; an error acknowledgement becomes a toast. Returns the ack. */
    async request(name, payload = {}) {
      const ack = await ctx.conn.request(name, payload);
      if (!ack.ok) toast(errorMessage(ack.error));
      return ack;
    },
    /** Camera and microphone off for good (leave, removal, the end): media.js replaces it. */
    releaseMedia: () => {},
    /** The breakout group whose chat this page shows (groups.js replaces it; null: the main room). */
    chatRoom: () => null,
  };

  // Side panels and their buttons: participants first (who is here, hands, the floor).
  const side = createPanels(ctx, root);
  ctx.registerPanel = side.registerPanel;
  ctx.openPanel = side.open;
  side.registerPanel({ id: "participants", label: t("room.ui.participants"), short: t("room.ui.participants_short"), icon: "users", key: "KeyP", keyName: "P" });
  side.registerPanel({ id: "chat", label: t("room.ui.chat"), short: t("room.ui.chat_short"), icon: "chat", key: "KeyC", keyName: "C" });
  side.registerPanel({ id: "agenda", label: t("room.ui.agenda"), short: t("room.ui.agenda_short"), icon: "agenda", key: "KeyA", keyName: "A" });
  side.registerPanel({ id: "polls", label: t("room.ui.polls"), short: t("room.ui.polls_short"), icon: "poll", key: "KeyG", keyName: "G" });
  side.registerPanel({ id: "documents", label: t("room.ui.documents"), short: t("room.ui.documents_short"), icon: "document", key: "KeyD", keyName: "D" });

  const chat = createChatPanel(ctx, document.getElementById("chat-panel"));
  const startPrivate = ctx.startPrivate;
  ctx.startPrivate = (key) => { side.open("chat", { focus: false }); startPrivate(key); };
  const reactions = createReactions(ctx, document.getElementById("bar-reactions"));
  const panels = [
    reactions,
    createModerationPanel(ctx, root),
    createAgendaPanel(ctx, document.getElementById("agenda-body")),
    createParticipantsPanel(ctx, document.getElementById("participants-body")),
    createHandsPanel(ctx, document.getElementById("speakers-body"), document.getElementById("bar-self")),
    createPollsPanel(ctx, document.getElementById("polls-body"), document.getElementById("ballots"), root),
    chat,
    createStagePanel(ctx, document.getElementById("stage")),
  ];
  const renderAll = () => panels.forEach((p) => p.render(store.state));
  let unreadChat = 0;
  store.subscribe((ev, state) => {
    for (const p of panels) {
      if (ev === null) p.render(state);
      else if (p.onEvent) p.onEvent(ev, state);
      else if (p.types.some((prefix) => ev.type.startsWith(prefix))) p.render(state);
    }
    // Unread: messages of the chat one sees (a moderator also receives the groups' chats).
    const here = (ctx.chatRoom ? ctx.chatRoom() : null) === (ev && ev.payload ? ev.payload.group ?? null : null);
    if (ev && ev.type === "chat.message" && ev.actor !== ctx.me() && side.current !== "chat" && here) {
      unreadChat += 1;
      side.setBadge("chat", unreadChat);
    }
    if (ev && ev.type === "meeting.ended") ctx.releaseMedia("ended");
    const open = Object.values(state.polls).filter((p) => p.status === "open").length;
    side.setBadge("polls", open);
  });
  ctx.onPanel = (id) => { if (id === "chat") unreadChat = 0; };

  const indicator = document.getElementById("conn-indicator");
  const overlay = document.getElementById("room-overlay");
  const showOverlay = (title, text, extra = null) => {
    overlay.replaceChildren(
      h("div", { class: "overlay-card", role: "alertdialog", "aria-labelledby": "overlay-title" },
        h("h2", { id: "overlay-title" }, title),
        text ? h("p", {}, text) : null,
        h("p", { class: "overlay-actions" }, extra,
          h("a", { class: `button${extra ? " secondary" : ""}`, href: root.dataset.backUrl || "/" }, t("room.overlay.back")))),
    );
    overlay.hidden = false;
    const action = overlay.querySelector("a");
    if (action) action.focus();
  };
  let optionalMounted = false;
  const onStatus = (status, detail) => {
    root.dataset.connection = status;
    indicator.hidden = ["online", "denied", "removed", "closed"].includes(status);
    indicator.className = `conn-indicator conn-${status}`;
    indicator.textContent = t(`room.conn.${status}`);
    if (status === "waiting") {
      showOverlay(t("room.waiting.title"), t("room.waiting.text"));
    } else if (status === "online") {
      overlay.hidden = true;
      renderAll();
      if (!optionalMounted) {
        // Media and documents talk to the room: mount them once the page has joined.
        optionalMounted = true;
        mountPanels();
      } else if (ctx.resumeMedia) {
        ctx.resumeMedia(); // readmitted after a removal: the stage comes back (devices off)
      }
    } else if (status === "removed") {
      ctx.releaseMedia("removed");
      showOverlay(t("room.removed.title"), t("room.removed.text"));
    } else if (status === "denied") {
      const again = h("button", { type: "button", onclick: () => ctx.conn.join() }, t("room.denied.again"));
      showOverlay(t("room.denied.title"), t("room.denied.text"), again);
    } else if (status === "closed") {
      ctx.releaseMedia("closed");
      showOverlay(t("room.refused.title"), detail.error ? errorMessage(detail.error) : "");
    }
  };

  // Before entering: the camera and microphone check (not for a meeting already over).
  let devices = { mic: null, camera: null };
  if (root.dataset.status !== "ended" && root.dataset.status !== "cancelled") {
    devices = await runPrejoin(root, { t, title: document.getElementById("room-title").textContent });
  }

  // Tracks from the check that no module took (media.js absent): released, never left on.
  ctx.releaseMedia = () => stopTracks([devices.mic, devices.camera]);
  ctx.conn = new Connection({ meetingId, store, onStatus });
  ctx.conn.socket.on("reaction", (msg) => { if (msg && typeof msg.participant === "string") reactions.show(msg); });
  window.smoRoom = { store, conn: ctx.conn, request: ctx.request, panels: side }; // diagnostics and the browser tests
  setupMenus();
  // Phones: an open side panel ends where the control bar begins.
  const bar = document.getElementById("control-bar");
  const fit = () => {
    fitControlBar(bar);
    root.style.setProperty("--bar-h", `${bar.offsetHeight}px`);
  };
  new ResizeObserver(fit).observe(bar);
  new MutationObserver(fit).observe(bar, { childList: true, subtree: true, attributes: true, attributeFilter: ["hidden"] });
  // «Покинуть заседание»: say so (attendance records "left", not a dropped connection), then go.
  for (const link of root.querySelectorAll(".room-leave")) {
    link.prepend(icon("leave"));
    link.addEventListener("click", async (e) => {
      e.preventDefault();
      ctx.releaseMedia("left");
      if (ctx.conn.status === "online") {
        await Promise.race([ctx.conn.request("leave"), new Promise((r) => { setTimeout(r, 1500); })]);
      }
      window.location.assign(link.href);
    });
  }
  renderAll();
  setInterval(() => panels.forEach((p) => p.tick && p.tick(store.state)), 1000);

  function mountPanels() {
    const optional = {
      socket: ctx.conn.socket,
      meetingId,
      t,
      // Background traffic of these panels: no toast while the connection is down.
      request: async (name, payload) => {
        const ack = await ctx.conn.request(name, payload);
        if (!ack.ok && !["offline", "timeout"].includes(ack.error && ack.error.code)) toast(errorMessage(ack.error));
        return ack;
      },
      subscribe: (fn) => store.subscribe(fn),
      isModerator: () => ctx.isModerator(),
      registerPanel: (spec) => side.registerPanel(spec),
      openPanel: (id) => side.open(id),
      barButton,
      toast,
      // media.js: the devices chosen before entering, where its buttons go, how the room releases it.
      devices,
      bar: document.getElementById("bar-media"),
      statusSlot: document.getElementById("media-status-slot"),
      moderatorSlot: () => document.getElementById("mod-media-items"),
      onRelease: (fn) => { ctx.releaseMedia = fn; },
      onResume: (fn) => { ctx.resumeMedia = fn; },
      myName: root.dataset.myName,
    };
    Object.defineProperty(optional, "me", { enumerable: true, get: () => ctx.me() });
    Object.defineProperty(optional, "state", { enumerable: true, get: () => store.state });
    Object.defineProperty(optional, "participants", { enumerable: true, get: () => store.state.participants });
    const mediaSlot = document.getElementById("media-slot");
    const docsSlot = document.getElementById("documents-slot");
    mountOptional(mediaSlot, "./media.js", ["mountMedia", "mount", "default"], optional).then((ok) => {
      root.dataset.media = ok ? "mounted" : "absent";
      if (store.state.meeting.status === "ended") ctx.releaseMedia("ended");
    });
    mountOptional(docsSlot, "./documents.js", ["mountDocuments", "mount", "default"], optional).then((ok) => {
      root.dataset.documents = ok ? "mounted" : "absent";
    });
    // The whiteboard (board.js): a «Доска» button in the bar opens it over the room.
    const boardSlot = h("div", { id: "board-slot", class: "board-slot", hidden: true });
    root.append(boardSlot);
    mountOptional(boardSlot, "./board.js", ["mountBoard"], optional).then((ok) => {
      root.dataset.board = ok ? "mounted" : "absent";
    });
    // Transcription (transcript.js): captions over the stage, the searchable transcript and the
    // moderator's switches in a «Субтитры» panel of the bar; the recording/transcription banner.
    mountTranscriptPanel(optional);
    mountGroupsPanel(optional);
  }

  // Breakout groups (groups.js): the «Работа в группах» panel, the group banner over the stage;
  // the chat and the stage show one's own room.
  async function mountGroupsPanel(optional) {
    const body = side.registerPanel({ id: "groups", label: t("groups.panel"), short: t("groups.panel_short"), icon: "grid", key: "KeyR", keyName: "R" });
    body.id = "groups-slot";
    optional.onRoom = (fn) => {
      ctx.chatRoom = fn;
      // Raised hands are per room too: a group has its own queue (docs/groups.md).
      ctx.sameRoom = (key) => !optional.sameRoom || optional.sameRoom(key);
      renderAll();
      // Moved into a group or back: whatever covers the room (the board) gives way to it.
      document.dispatchEvent(new CustomEvent("smo:room-changed"));
    };
    const ok = await mountOptional(body, "./groups.js", ["mountGroups"], optional);
    root.dataset.groups = ok ? "mounted" : "absent";
  }

  async function mountTranscriptPanel(optional) {
    const body = side.registerPanel({ id: "captions", label: t("room.ui.captions"), short: t("room.ui.captions_short"), icon: "captions", key: "KeyT", keyName: "T" });
    body.id = "transcript-slot";
    optional.toast = toast;
    const ok = await mountOptional(body, "./transcript.js", ["mountTranscript"], optional);
    root.dataset.transcript = ok ? "mounted" : "absent";
    root.dataset.captions = ok ? "mounted" : "absent";
  }
}

main().catch((err) => {
  console.error(err);
  const box = document.getElementById("conn-indicator");
  if (box) {
    box.hidden = false;
    box.textContent = "Не удалось загрузить комнату. Обновите страницу.";
  }
});

/* The control bar on one row: with labels where they fit, else icons only (a moderator's
 * fifteen buttons on a 1280 px screen, a teacher's on 1024 px). Measured, not guessed from the
 * width: the buttons present depend on the role and the meeting's state. */
function fitControlBar(bar) {
  bar.classList.remove("bar-icons");
  let first = null;
  for (const button of bar.querySelectorAll(".cb-button")) {
    const box = button.getBoundingClientRect();
    if (box.width === 0) continue; // hidden
    if (first === null) first = box.top;
    else if (box.top > first + box.height / 2) {
      bar.classList.add("bar-icons");
      return;
    }
  }
}
