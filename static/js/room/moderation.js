// Moderator controls: start/end the meeting, lock, admission policy (in the room header);
// waiting-room decisions and per-participant actions (used by the participants panel).

import { h, rerender } from "./dom.js";
import { icon } from "./icons.js";

const ADMISSIONS = ["open", "guests", "everyone"];

export function createModerationPanel(ctx, root) {
  const { t } = ctx;
  const status = root.querySelector("#room-status");
  const box = root.querySelector("#moderation");
  const label = t("room.mod.group");
  const menuButton = h("button", {
    type: "button", id: "mod-menu-button", class: "cb-button", title: label, "aria-label": label,
    "aria-expanded": "false", "aria-controls": "mod-menu",
    onclick: () => setOpen(menu.hidden),
  }, icon("shield"), h("span", { class: "cb-label", "aria-hidden": "true" }, t("room.ui.moderator_short")),
  h("span", { class: "cb-badge", hidden: true }));
  const mediaItems = h("div", { id: "mod-media-items", class: "menu-group" }); // filled by media.js
  const roomItems = h("div", { class: "menu-group" });
  const menu = h("div", { id: "mod-menu", class: "mod-menu", role: "group", "aria-label": label, hidden: true }, mediaItems, roomItems);
  box.replaceChildren(menuButton, menu);

  function setOpen(open) {
    menu.hidden = !open;
    menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      const first = menu.querySelector("button, select");
      if (first) first.focus();
    }
  }
  document.addEventListener("click", (e) => { if (!menu.hidden && !box.contains(e.target)) setOpen(false); });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !menu.hidden) { e.preventDefault(); setOpen(false); menuButton.focus(); }
  });

  // «Завершить заседание»: always confirmed; with a vote still open the question says so.
  const question = h("p", { id: "end-dialog-text" });
  const dialog = h("dialog", { class: "end-dialog", id: "end-dialog", "aria-labelledby": "end-dialog-h", "aria-describedby": "end-dialog-text" },
    h("h2", { id: "end-dialog-h" }, t("room.mod.end")), question,
    h("p", { class: "form-actions" },
      h("button", {
        type: "button", class: "danger", "data-fk": "end-yes",
        onclick: async () => { dialog.close(); await ctx.request("meeting.end"); render(ctx.store.state); },
      }, t("room.mod.end_yes")),
      h("button", { type: "button", class: "secondary", "data-fk": "end-no", onclick: () => dialog.close() }, t("room.common.cancel"))));
  root.append(dialog);

  function askEnd() {
    const open = Object.values(ctx.store.state.polls).filter((p) => p.status === "open");
    question.textContent = open.length ? t("room.mod.end_confirm_poll") : t("room.mod.end_confirm");
    dialog.dataset.openPolls = String(open.length);
    setOpen(false);
    dialog.showModal();
    dialog.querySelector('[data-fk="end-no"]').focus();
  }

  function controls(state) {
    const m = state.meeting;
    if (!ctx.isModerator() || m.status !== "live") return [];
    const select = h("select", {
      id: "admission-select", "data-fk": "admission",
      onchange: (e) => ctx.request("meeting.admission", { admission: e.target.value }),
    }, ADMISSIONS.map((a) => h("option", { value: a, selected: a === m.admission }, t(`room.admission.${a}`))));
    const waiting = state.waiting.length;
    return [
      h("button", {
        type: "button", class: "menu-item", "data-fk": "lock", "aria-pressed": m.locked ? "true" : "false",
        title: t(m.locked ? "room.mod.locked_hint" : "room.mod.unlocked_hint"),
        onclick: () => ctx.request("meeting.lock", { locked: !m.locked }),
      }, icon("lock"), ` ${t(m.locked ? "room.mod.unlock" : "room.mod.lock")}`),
      h("label", { class: "menu-item admission" }, h("span", {}, t("room.mod.admission")), select),
      waiting
        ? h("button", {
          type: "button", class: "menu-item", "data-fk": "waiting",
          onclick: () => { setOpen(false); ctx.openPanel("participants"); },
        }, icon("users"), ` ${t("room.waiting.heading", { count: waiting })}`)
        : null,
      h("button", { type: "button", class: "menu-item danger", "data-fk": "end", onclick: askEnd }, icon("close"), ` ${t("room.mod.end")}`),
    ];
  }

  function render(state) {
    const m = state.meeting;
    status.textContent = t(`room.status.${m.status}`);
    status.className = `badge status-${m.status}`;
    root.dataset.status = m.status;
    root.classList.toggle("is-moderator", ctx.isModerator());
    const items = controls(state);
    // The menu is the chair's from entering to the end (mute all works before the start too).
    const mine = ctx.isModerator() && m.status !== "ended" && m.status !== "cancelled";
    box.hidden = !mine;
    if (!mine) setOpen(false);
    rerender(roomItems, () => items);
    const badge = menuButton.querySelector(".cb-badge");
    badge.hidden = state.waiting.length === 0 || !ctx.isModerator();
    badge.textContent = String(state.waiting.length);
  }

  return { types: ["meeting.", "participant.promoted", "waiting.", "participant."], render };
}

/** The waiting room (moderators only): admit or deny each person. */
export function waitingRoom(ctx, state) {
  const { t } = ctx;
  if (!ctx.isModerator() || state.waiting.length === 0) return null;
  return h("section", { class: "waiting-room", "aria-labelledby": "waiting-h" },
    h("h3", { id: "waiting-h" }, t("room.waiting.heading", { count: state.waiting.length })),
    h("ul", { class: "plain" }, state.waiting.map((key) => {
      const info = state.waiting_info[key] || state.participants[key] || {};
      return h("li", { class: "waiting-row", "data-participant": key },
        h("span", { class: "name" }, info.name || key),
        info.role ? h("span", { class: `role role-${info.role}` }, t(`room.role.${info.role}`)) : null,
        h("span", { class: "row-actions" },
          h("button", { type: "button", class: "small", "data-fk": `admit-${key}`, onclick: () => ctx.request("waiting.admit", { participant: key }) },
            t("room.waiting.admit")),
          h("button", { type: "button", class: "small secondary", "data-fk": `deny-${key}`, onclick: () => ctx.request("waiting.deny", { participant: key }) },
            t("room.waiting.deny"))));
    })));
}

/** Moderator actions on one participant, as a keyboard-accessible disclosure menu. */
export function participantMenu(ctx, state, key, { onPrivate } = {}) {
  const { t } = ctx;
  const p = state.participants[key];
  const me = ctx.me();
  const live = state.meeting.status === "live";
  const actions = [];
  if (key !== me && onPrivate && !p.removed) actions.push([t("room.chat.private_to"), () => onPrivate(key), "pm"]);
  if (ctx.isModerator() && key !== me) {
    if (p.removed) {
      actions.push([t("room.mod.readmit"), () => ctx.request("participant.readmit", { participant: key }), "readmit"]);
    } else {
      if (live && p.connected && state.floor !== key) {
        actions.push([t("room.floor.give"), () => ctx.request("floor.grant", { participant: key }), "floor"]);
      }
      if (state.hands.includes(key)) {
        actions.push([t("room.hands.lower_for"), () => ctx.request("hand.lower", { participant: key }), "lower"]);
      }
      if (!p.moderator) {
        actions.push([t("room.mod.promote"), () => ctx.request("participant.promote", { participant: key }), "promote"]);
      }
      actions.push([t("room.mod.remove"), () => ctx.request("participant.remove", { participant: key }), "remove", "danger"]);
    }
  }
  if (actions.length === 0) return null;
  const details = h("details", { class: "menu", "data-key": `menu-${key}` },
    h("summary", { "aria-label": t("room.participants.actions_for", { name: p.short_name || p.name }), "data-fk": `menu-${key}` }, "⋯"),
    h("div", { class: "menu-list", role: "group" }, actions.map(([label, fn, id, kind]) =>
      h("button", {
        type: "button", class: `menu-item ${kind || ""}`, "data-fk": `${id}-${key}`, "data-action": id,
        onclick: () => { details.open = false; fn(); },
      }, label))));
  return details;
}
