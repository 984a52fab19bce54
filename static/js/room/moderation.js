// Moderator controls: start/end the meeting, lock, admission policy (in the room header);
// waiting-room decisions and per-participant actions (used by the participants panel).

import { h, rerender } from "./dom.js";
import { icon } from "./icons.js";

const ADMISSIONS = ["open", "guests", "everyone"];

export function createModerationPanel(ctx, root) {
  const { t } = ctx;
  const status = root.querySelector("#room-status");
  const box = root.querySelector("#moderation");
  let confirmingEnd = false;

  function controls(state) {
    const m = state.meeting;
    if (!ctx.isModerator() || m.status === "ended" || m.status === "cancelled") return [];
    if (m.status !== "live") {
      return [
        h("button", { type: "button", class: "button-start", "data-fk": "start", onclick: () => ctx.request("meeting.start") },
          t("room.mod.start")),
      ];
    }
    const items = [];
    items.push(
      h("button", {
        type: "button", class: "secondary", "data-fk": "lock", "aria-pressed": m.locked ? "true" : "false",
        title: t(m.locked ? "room.mod.locked_hint" : "room.mod.unlocked_hint"),
        onclick: () => ctx.request("meeting.lock", { locked: !m.locked }),
      }, m.locked ? [icon("lock"), ` ${t("room.mod.unlock")}`] : t("room.mod.lock")),
    );
    const select = h("select", {
      id: "admission-select", "data-fk": "admission",
      onchange: (e) => ctx.request("meeting.admission", { admission: e.target.value }),
    }, ADMISSIONS.map((a) => h("option", { value: a, selected: a === m.admission }, t(`room.admission.${a}`))));
    items.push(h("label", { class: "admission" }, h("span", { class: "muted" }, t("room.mod.admission")), select));
    if (confirmingEnd) {
      items.push(
        h("span", { class: "confirm", role: "group", "aria-label": t("room.mod.end_confirm") },
          h("span", {}, t("room.mod.end_confirm")),
          h("button", {
            type: "button", class: "danger", "data-fk": "end-yes",
            onclick: async () => { confirmingEnd = false; await ctx.request("meeting.end"); render(ctx.store.state); },
          }, t("room.mod.end_yes")),
          h("button", {
            type: "button", class: "secondary", "data-fk": "end-no",
            onclick: () => { confirmingEnd = false; render(ctx.store.state); },
          }, t("room.common.cancel"))),
      );
    } else {
      items.push(
        h("button", {
          type: "button", class: "danger", "data-fk": "end",
          onclick: () => {
            confirmingEnd = true;
            render(ctx.store.state);
            const yes = box.querySelector('[data-fk="end-yes"]');
            if (yes) yes.focus();
          },
        }, t("room.mod.end")),
      );
    }
    return items;
  }

  function render(state) {
    const m = state.meeting;
    status.textContent = t(`room.status.${m.status}`);
    status.className = `badge status-${m.status}`;
    root.dataset.status = m.status;
    root.classList.toggle("is-moderator", ctx.isModerator());
    const items = controls(state);
    box.hidden = items.length === 0;
    rerender(box, () => items);
  }

  return { types: ["meeting.", "participant.promoted"], render };
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
