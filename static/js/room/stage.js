// The line over the stage: what is happening now (the current agenda item, who has the
// floor), «Начать заседание» for the chair before the start, and after the end a card that
// says so with links to the meeting's page (materials, documents, the protocol).

import { h, rerender } from "./dom.js";
import { displayName } from "./state.js";
import { icon } from "./icons.js";

export function createStagePanel(ctx, body) {
  const { t } = ctx;
  const root = document.getElementById("room");

  function ended() {
    const meetingUrl = root.dataset.meetingUrl;
    return h("div", { class: "ended-card", role: "status" },
      h("h2", {}, t("room.stage.ended")),
      meetingUrl
        ? h("p", { class: "ended-links" },
          h("a", { class: "button", href: meetingUrl }, t("room.ui.ended_meeting_page")),
          h("a", { class: "button secondary", href: `${meetingUrl}/documents` }, t("room.ui.ended_documents")))
        : h("p", { class: "ended-links" }, h("a", { class: "button", href: root.dataset.backUrl || "/" }, t("room.overlay.back"))),
      meetingUrl ? h("p", { class: "muted small-text" }, t("room.ui.ended_hint")) : null);
  }

  function render(state) {
    const m = state.meeting;
    body.classList.toggle("is-ended", m.status === "ended");
    rerender(body, () => {
      if (m.status === "ended") return ended();
      if (m.status !== "live") {
        return h("p", { class: "stage-line" },
          h("span", {}, t(ctx.isModerator() ? "room.stage.not_started_mod" : "room.stage.not_started")),
          ctx.isModerator()
            ? h("button", { type: "button", class: "button-start", "data-fk": "start", onclick: () => ctx.request("meeting.start") },
              t("room.mod.start"))
            : null);
      }
      const item = state.agenda.find((a) => a.id === state.current_item_id);
      const mine = state.floor === ctx.me();
      return [
        h("p", { class: "stage-line" },
          h("span", { class: "muted" }, t("room.stage.item")), " ",
          item ? h("strong", { id: "stage-item" }, `${item.position}. ${item.title}`) : h("span", { class: "muted" }, t("room.stage.no_item"))),
        state.floor
          ? h("p", { class: `stage-line floor-line${mine ? " mine" : ""}` }, icon("mic"), " ",
            h("span", { class: "muted" }, t("room.stage.floor")), " ",
            h("strong", { id: "stage-floor" }, mine ? t("room.stage.you") : displayName(state, state.floor)),
            mine
              ? h("button", { type: "button", class: "small secondary", "data-fk": "stage-floor-end", onclick: () => ctx.request("floor.end") },
                t("room.floor.end_mine"))
              : null)
          : null,
      ];
    });
  }

  return { types: ["meeting.", "agenda.", "floor.", "participant."], render };
}
