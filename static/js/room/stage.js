// The strip above the media area: what is happening now (meeting status, current agenda
// item, who has the floor), readable at a glance.

import { h, rerender } from "./dom.js";
import { displayName } from "./state.js";

export function createStagePanel(ctx, body) {
  const { t } = ctx;

  function render(state) {
    const m = state.meeting;
    const item = state.agenda.find((a) => a.id === state.current_item_id);
    rerender(body, () => {
      if (m.status === "ended") return h("p", { class: "stage-line ended" }, t("room.stage.ended"));
      if (m.status !== "live") {
        return h("p", { class: "stage-line" }, t(ctx.isModerator() ? "room.stage.not_started_mod" : "room.stage.not_started"));
      }
      return [
        h("p", { class: "stage-line" },
          h("span", { class: "muted" }, t("room.stage.item")), " ",
          item ? h("strong", { id: "stage-item" }, `${item.position}. ${item.title}`) : h("span", { class: "muted" }, t("room.stage.no_item"))),
        state.floor
          ? h("p", { class: `stage-line${state.floor === ctx.me() ? " mine" : ""}` },
            h("span", { class: "muted" }, t("room.stage.floor")), " ",
            h("strong", { id: "stage-floor" }, state.floor === ctx.me() ? t("room.stage.you") : displayName(state, state.floor)))
          : null,
      ];
    });
  }

  return { types: ["meeting.", "agenda.", "floor.", "participant."], render };
}
