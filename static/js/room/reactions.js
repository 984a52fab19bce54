// Reactions: «Нравится», «Поддерживаю», «Есть вопрос», «Аплодисменты» from a small menu in
// the control bar (R); each shows for a few seconds over the sender's tile (or over the
// stage when the sender has no tile). Not logged: see reaction.send in docs/realtime.md.

import { h } from "./dom.js";
import { icon } from "./icons.js";
import { displayName } from "./state.js";

const KINDS = [["like", "thumb"], ["support", "check"], ["question", "question"], ["applause", "smile"]];
const SHOWN_MS = 4000;

export function createReactions(ctx, slot) {
  const { t } = ctx;
  const label = t("room.ui.reactions");
  const button = h("button", {
    type: "button", id: "reactions-button", class: "cb-button", title: `${label} (R)`, "aria-label": label,
    "aria-keyshortcuts": "R", "aria-expanded": "false", "aria-controls": "reactions-menu",
    onclick: () => setOpen(menu.hidden),
  }, icon("smile"), h("span", { class: "cb-label", "aria-hidden": "true" }, t("room.ui.reactions_short")));
  const menu = h("div", { id: "reactions-menu", class: "reactions-menu", role: "group", "aria-label": label, hidden: true },
    KINDS.map(([kind, iconName]) => h("button", {
      type: "button", class: "reaction-choice", "data-kind": kind, title: t(`room.reaction.${kind}`),
      onclick: async () => {
        setOpen(false);
        button.focus();
        await ctx.request("reaction.send", { kind });
      },
    }, icon(iconName), h("span", {}, t(`room.reaction.${kind}`)))));
  const box = h("div", { class: "reactions" }, button, menu);

  function setOpen(open) {
    menu.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) menu.querySelector("button").focus();
  }
  document.addEventListener("click", (e) => { if (!menu.hidden && !box.contains(e.target)) setOpen(false); });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !menu.hidden) { e.preventDefault(); setOpen(false); button.focus(); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.code !== "KeyR" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof Element && e.target.closest("input, textarea, select, [contenteditable], dialog[open]")) return;
    if (!slot.hidden && box.isConnected) { e.preventDefault(); setOpen(menu.hidden); }
  });

  /** Show someone's reaction for a moment. */
  function show({ participant, kind }) {
    const pair = KINDS.find(([k]) => k === kind);
    if (!pair) return;
    const tile = document.querySelector(`#media-slot .media-tile.tile-person[data-participant="${CSS.escape(participant)}"]`);
    const who = participant === ctx.me() ? t("room.stage.you") : displayName(ctx.store.state, participant);
    const bubble = h("div", { class: `reaction-bubble reaction-${kind}`, "data-participant": participant },
      icon(pair[1]), h("span", {}, tile ? t(`room.reaction.${kind}`) : `${who}: ${t(`room.reaction.${kind}`)}`));
    (tile || document.getElementById("stage-area")).append(bubble);
    setTimeout(() => bubble.remove(), SHOWN_MS);
  }

  function render(state) {
    const live = state.meeting.status === "live";
    slot.hidden = !live;
    if (live && !box.isConnected) slot.replaceChildren(box);
    if (!live) setOpen(false);
  }

  return { types: ["meeting."], render, show };
}
