// Participants: role badges, raised hands, connection state; the waiting room and
// per-person actions for moderators.

import { h, rerender } from "./dom.js";
import { participantMenu, waitingRoom } from "./moderation.js";
import { icon } from "./icons.js";
import { handsHere } from "./hands.js";

export function createParticipantsPanel(ctx, body) {
  const { t } = ctx;
  const count = document.getElementById("participants-count");

  function row(state, key) {
    const p = state.participants[key];
    const me = ctx.me();
    const handPos = handsHere(ctx, state).indexOf(key);
    const speaking = state.speaking.includes(key);
    const hasFloor = state.floor === key;
    const nameTitle = [p.name, p.organisation].filter(Boolean).join(", ");
    return h("li", {
      class: `person${p.connected ? "" : " offline"}${hasFloor ? " has-floor" : ""}${p.removed ? " removed" : ""}`,
      "data-participant": key,
    },
    h("span", {
      class: `dot ${p.connected ? "on" : "off"}`,
      role: "img",
      "aria-label": t(p.connected ? "room.participants.online" : "room.participants.offline"),
      title: t(p.connected ? "room.participants.online" : "room.participants.offline"),
    }),
    h("span", { class: "who" },
      h("span", { class: "name", title: nameTitle }, p.short_name || p.name,
        key === me ? h("span", { class: "muted" }, ` (${t("room.participants.you")})`) : null),
      h("span", { class: "badges" },
        h("span", { class: `role role-${p.role}` }, t(`room.role.${p.role}`)),
        p.moderator ? h("span", { class: "role role-moderator" }, t("room.role.moderator")) : null,
        p.organisation ? h("span", { class: "org", title: p.organisation }, p.organisation) : null)),
    hasFloor ? h("span", { class: "flag floor", title: t("room.floor.speaking_now") }, icon("mic", t("room.floor.speaking_now"))) : null,
    speaking && !hasFloor ? h("span", { class: "flag", title: t("room.participants.speaking") }, icon("volume", t("room.participants.speaking"))) : null,
    handPos >= 0
      ? h("span", { class: "flag hand", title: t("room.hands.raised_n", { n: handPos + 1 }) },
        icon("hand", t("room.hands.raised_n", { n: handPos + 1 })), h("span", { "aria-hidden": "true" }, String(handPos + 1)))
      : null,
    participantMenu(ctx, state, key, { onPrivate: ctx.startPrivate }));
  }

  function sortKeys(state, keys) {
    return keys.sort((a, b) => {
      const pa = state.participants[a];
      const pb = state.participants[b];
      if (pa.connected !== pb.connected) return pa.connected ? -1 : 1;
      if (pa.moderator !== pb.moderator) return pa.moderator ? -1 : 1;
      return (pa.name || "").localeCompare(pb.name || "", "ru");
    });
  }

  function render(state) {
    // People who only knocked (waiting or denied) are not participants yet.
    const all = Object.keys(state.participants).filter((k) => {
      const p = state.participants[k];
      return p.removed || (!p.waiting && p.admitted !== false) || p.connected;
    });
    const present = sortKeys(state, all.filter((k) => !state.participants[k].removed));
    const removed = all.filter((k) => state.participants[k].removed);
    const online = present.filter((k) => state.participants[k].connected).length;
    count.textContent = t("room.participants.count", { online, total: present.length });
    rerender(body, () => [
      waitingRoom(ctx, state),
      present.length
        ? h("ul", { class: "people plain", "aria-label": t("room.participants.heading") }, present.map((k) => row(state, k)))
        : h("p", { class: "muted" }, t("room.participants.empty")),
      removed.length && ctx.isModerator()
        ? h("section", { class: "removed-list" },
          h("h3", {}, t("room.participants.removed")),
          h("ul", { class: "people plain" }, removed.map((k) => row(state, k))))
        : null,
    ]);
  }

  return { types: ["participant.", "waiting.", "hand.", "floor.", "speech.", "meeting."], render };
}
