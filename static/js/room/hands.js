// Hands and the list of speakers: the big «Поднять руку» button, who has the floor (with
// its time), the ordered queue; moderators give and end the floor.

import { h, rerender } from "./dom.js";
import { clockTime, duration } from "./i18n.js";
import { displayName } from "./state.js";
import { icon } from "./icons.js";

/** The raised hands in my room, in order: a breakout group has its own queue. */
export function handsHere(ctx, state) {
  return ctx.sameRoom ? state.hands.filter((key) => ctx.sameRoom(key)) : state.hands;
}

export function createHandsPanel(ctx, body, barSlot) {
  const { t } = ctx;
  const types = ["hand.", "floor.", "participant.", "meeting.", "groups."];

  /** «Поднять руку» in the control bar (H). */
  function myButton(state) {
    const me = ctx.me();
    const self = state.participants[me];
    if (state.meeting.status !== "live" || !self || self.removed) return null;
    if (state.floor === me) return null;
    const raised = state.hands.includes(me);
    const place = handsHere(ctx, state).indexOf(me) + 1;
    const label = raised ? t("room.hands.lower") : t("room.hands.raise");
    return h("button", {
      type: "button",
      id: "hand-button",
      class: `cb-button hand-button${raised ? " raised" : ""}`,
      "data-fk": "hand",
      title: `${label} (H)`,
      "aria-label": raised ? `${label}: ${t("room.hands.your_place", { n: place })}` : label,
      "aria-keyshortcuts": "H",
      onclick: () => ctx.request(raised ? "hand.lower" : "hand.raise"),
    }, icon("hand"), h("span", { class: "cb-label", "aria-hidden": "true" }, label),
    raised ? h("span", { class: "cb-badge", "aria-hidden": "true" }, String(place)) : null);
  }

  document.addEventListener("keydown", (e) => {
    if (e.code !== "KeyH" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof Element && e.target.closest("input, textarea, select, [contenteditable], dialog[open]")) return;
    const b = barSlot && barSlot.querySelector("#hand-button");
    if (b) { e.preventDefault(); b.click(); }
  });

  function floorBox(state) {
    const me = ctx.me();
    if (!state.floor) {
      return h("p", { class: "floor-none muted" }, t("room.floor.nobody"));
    }
    const mine = state.floor === me;
    return h("div", { class: `floor-box${mine ? " mine" : ""}`, id: "floor-box" },
      mine
        ? h("strong", { class: "floor-mine" }, t("room.floor.yours"))
        : h("span", {}, t("room.floor.speaking"), " ", h("strong", {}, displayName(state, state.floor))),
      state.floor_since ? h("span", { class: "timer", "data-since": state.floor_since }, "") : null,
      // Your own «Закончить выступление» is on the stage line (one button, one place).
      ctx.isModerator() && !mine
        ? h("button", {
          type: "button", class: "small secondary", "data-fk": "floor-end",
          onclick: () => ctx.request("floor.end"),
        }, t("room.floor.end"))
        : null);
  }

  function queue(state) {
    const mod = ctx.isModerator() && state.meeting.status === "live";
    const hands = handsHere(ctx, state);
    const items = hands.map((key, i) => h("li", { "data-participant": key },
      h("span", { class: "pos" }, `${i + 1}.`),
      h("span", { class: "name" }, displayName(state, key)),
      state.participants[key] && state.participants[key].hand_raised_at
        ? h("span", { class: "muted small-text" }, clockTime(state.participants[key].hand_raised_at))
        : null,
      mod
        ? h("span", { class: "row-actions" },
          h("button", {
            type: "button", class: "small", "data-fk": `give-${key}`,
            onclick: () => ctx.request("floor.grant", { participant: key }),
          }, t("room.floor.give")),
          h("button", {
            type: "button", class: "small secondary", "data-fk": `lower-${key}`,
            "aria-label": t("room.hands.lower_for_name", { name: displayName(state, key) }),
            onclick: () => ctx.request("hand.lower", { participant: key }),
          }, icon("close")))
        : null));
    if (items.length === 0) return [h("p", { class: "muted queue-empty" }, t("room.hands.empty"))];
    return [
      h("div", { class: "queue-head" },
        h("h3", {}, t("room.hands.queue", { count: hands.length })),
        mod
          ? h("button", { type: "button", class: "small", "data-fk": "give-next", onclick: () => ctx.request("floor.grant", {}) },
            t("room.floor.give_next"))
          : null),
      h("ol", { class: "queue plain", id: "hand-queue" }, items),
    ];
  }

  function render(state) {
    rerender(body, () => [floorBox(state), ...queue(state)]);
    if (barSlot) rerender(barSlot, () => [myButton(state)]);
    tick();
  }

  function tick() {
    for (const el of body.querySelectorAll("[data-since]")) {
      el.textContent = duration((Date.now() - Date.parse(el.dataset.since)) / 1000);
    }
  }

  function onEvent(ev, state) {
    if (ev.type === "floor.granted" && ev.payload.participant === ctx.me()) {
      ctx.announce(t("room.floor.yours"));
    }
    if (types.some((p) => ev.type.startsWith(p))) render(state);
  }

  return { types, render, onEvent, tick };
}
