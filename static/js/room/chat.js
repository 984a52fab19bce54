// Chat: escaped text with safe clickable links, replies, private messages («лично»).
// Every piece of user text goes in through textContent (see dom.js: h, linkify).

import { h, linkify } from "./dom.js";
import { clockTime } from "./i18n.js";
import { displayName } from "./state.js";
import { icon } from "./icons.js";

const MAX_LEN = 2000;

export function createChatPanel(ctx, panel) {
  const { t } = ctx;
  let replyTo = null; // seq

  const log = h("ol", { class: "chat-log plain", id: "chat-log", role: "log", "aria-live": "polite", "aria-label": t("room.chat.log") });
  const replyBar = h("div", { class: "reply-bar", hidden: true });
  const recipient = h("select", { id: "chat-to", "aria-label": t("room.chat.to") });
  const input = h("textarea", {
    id: "chat-input", rows: 1, maxlength: MAX_LEN, placeholder: t("room.chat.placeholder"), "aria-label": t("room.chat.input"), title: t("room.chat.enter_hint"),
  });
  const send = h("button", { type: "submit", class: "send", id: "chat-send" }, t("room.chat.send"));
  const closedNote = h("p", { class: "muted chat-closed", hidden: true }, t("room.chat.closed"));
  const form = h("form", { class: "chat-form", id: "chat-form", novalidate: true },
    replyBar,
    input,
    h("div", { class: "chat-send-row" },
      h("label", { for: "chat-to", class: "muted" }, t("room.chat.to")), recipient, send));
  panel.querySelector(".panel-body").replaceChildren(log, closedNote, form);

  const grow = () => {
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + 2}px`;
  };
  input.addEventListener("input", grow);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
    if (e.key === "Escape" && replyTo !== null) setReply(null);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const payload = { text };
    if (replyTo !== null) payload.reply_to = replyTo;
    if (recipient.value) payload.to = recipient.value;
    send.disabled = true;
    const ack = await ctx.request("chat.send", payload);
    send.disabled = false;
    if (ack.ok) {
      input.value = "";
      grow();
      setReply(null);
    }
    input.focus();
  });

  function setReply(seq) {
    replyTo = seq;
    const state = ctx.store.state;
    const target = seq === null ? null : state.chat.find((m) => m.seq === seq);
    if (!target) {
      replyTo = null;
      replyBar.hidden = true;
      replyBar.replaceChildren();
      return;
    }
    replyBar.replaceChildren(
      h("span", { class: "reply-label" }, t("room.chat.replying", { name: displayName(state, target.actor) })),
      h("span", { class: "reply-snippet" }, snippet(target.text)),
      h("button", { type: "button", class: "link-button", "aria-label": t("room.chat.cancel_reply"), onclick: () => { setReply(null); input.focus(); } }, icon("close")));
    replyBar.hidden = false;
    // Replying to a private message answers privately.
    if (target.to) {
      const other = target.actor === ctx.me() ? target.to : target.actor;
      setRecipient(other);
    }
    input.focus();
  }

  function setRecipient(key) {
    renderRecipients(ctx.store.state);
    recipient.value = key && [...recipient.options].some((o) => o.value === key) ? key : "";
  }

  ctx.startPrivate = (key) => {
    setRecipient(key);
    input.focus();
  };

  function snippet(text) {
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  }

  function message(state, m) {
    const me = ctx.me();
    const mine = m.actor === me;
    let privateTag = null;
    if (m.to) {
      privateTag = h("span", { class: "private-tag" },
        mine
          ? t("room.chat.private_for", { name: displayName(state, m.to) })
          : t("room.chat.private_from"));
    }
    const target = m.reply_to ? state.chat.find((x) => x.seq === m.reply_to) : null;
    return h("li", { class: `msg${mine ? " mine" : ""}${m.to ? " private" : ""}`, "data-seq": String(m.seq) },
      h("div", { class: "msg-head" },
        h("span", { class: "author" }, displayName(state, m.actor)),
        privateTag,
        h("time", { datetime: m.at, class: "muted" }, clockTime(m.at))),
      m.reply_to
        ? h("div", { class: "quote" }, icon("reply"), " ",
          target ? [h("span", { class: "quote-author" }, `${displayName(state, target.actor)}: `), snippet(target.text)] : t("room.chat.reply_missing"))
        : null,
      h("div", { class: "msg-text" }, linkify(m.text)),
      ctx.live()
        ? h("button", {
          type: "button", class: "reply-btn link-button",
          "aria-label": t("room.chat.reply_to", { name: displayName(state, m.actor) }),
          onclick: () => setReply(m.seq),
        }, t("room.chat.reply"))
        : null);
  }

  // Follow new messages while the reader is at the bottom (also when the panel resizes).
  let pinned = true;
  log.addEventListener("scroll", () => {
    pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  });
  const toBottom = () => {
    log.scrollTop = log.scrollHeight;
  };
  new ResizeObserver(() => {
    if (pinned) toBottom();
  }).observe(log);

  function renderRecipients(state) {
    const current = recipient.value;
    const me = ctx.me();
    const keys = Object.keys(state.participants)
      .filter((k) => k !== me && !state.participants[k].removed && (state.participants[k].connected || k === current))
      .sort((a, b) => displayName(state, a).localeCompare(displayName(state, b), "ru"));
    recipient.replaceChildren(
      h("option", { value: "" }, t("room.chat.to_all")),
      ...keys.map((k) => h("option", { value: k }, `${t("room.chat.private_short")}: ${displayName(state, k)}`)));
    recipient.value = keys.includes(current) ? current : "";
    recipient.classList.toggle("is-private", Boolean(recipient.value));
  }
  recipient.addEventListener("change", () => recipient.classList.toggle("is-private", Boolean(recipient.value)));

  function renderForm(state) {
    const ended = state.meeting.status === "ended";
    form.hidden = ended;
    closedNote.hidden = !ended;
    renderRecipients(state);
  }

  // Breakout groups: each room (a group's or the main one) shows its own chat (docs/groups.md).
  const room = () => (ctx.chatRoom ? ctx.chatRoom() : null);
  const shown = (state) => state.chat.filter((m) => (m.group ?? null) === room());

  function render(state) {
    log.replaceChildren(...shown(state).map((m) => message(state, m)));
    if (shown(state).length === 0) log.appendChild(h("li", { class: "muted chat-empty" }, t("room.chat.empty")));
    toBottom();
    pinned = true;
    renderForm(state);
  }

  function onEvent(ev, state) {
    if (ev.type === "chat.message") {
      const stick = pinned || ev.actor === ctx.me();
      const empty = log.querySelector(".chat-empty");
      if (empty) empty.remove();
      const entry = state.chat.find((m) => m.seq === ev.seq);
      if (entry && (entry.group ?? null) !== room()) return;
      if (entry) log.appendChild(message(state, entry));
      while (log.children.length > shown(state).length) log.firstElementChild.remove();
      if (stick) {
        toBottom();
        pinned = true;
      }
    } else if (ev.type.startsWith("meeting.")) {
      render(state);
    } else if (ev.type.startsWith("participant.")) {
      renderRecipients(state);
    }
  }

  return { types: ["chat.", "participant.", "meeting."], render, onEvent };
}
