// The agenda: the current item highlighted with the time spent on it; moderators start and
// end items.

import { h, rerender } from "./dom.js";
import { duration } from "./i18n.js";
import { icon } from "./icons.js";

export function createAgendaPanel(ctx, body) {
  const { t } = ctx;

  function item(state, a) {
    const current = state.current_item_id === a.id;
    const done = !current && Boolean(a.ended_at);
    const mod = ctx.isModerator() && state.meeting.status === "live";
    let time = null;
    if (current && (a.since || a.started_at)) {
      time = h("span", { class: "item-time" },
        h("span", { "data-since": a.since || a.started_at, "data-spent": String(a.spent_seconds || 0) }, ""),
        a.planned_minutes ? ` / ${t("room.agenda.minutes", { n: a.planned_minutes })}` : "");
    } else if (done || a.spent_seconds) {
      time = h("span", { class: "item-time done-time" }, icon("check"), ` ${duration(a.spent_seconds || 0)}`);
    } else if (a.planned_minutes) {
      time = h("span", { class: "item-time muted" }, t("room.agenda.minutes", { n: a.planned_minutes }));
    }
    return h("li", {
      class: `agenda-item${current ? " current" : ""}${done ? " done" : ""}`,
      "data-item": String(a.id),
      "aria-current": current ? "step" : null,
    },
    h("span", { class: "pos" }, `${a.position}.`),
    h("span", { class: "item-main" },
      h("span", { class: "item-title" }, a.title),
      a.rapporteur ? h("span", { class: "item-rapporteur muted" }, a.rapporteur) : null,
      h("span", { class: "item-meta" },
        current ? h("span", { class: "now-badge" }, t("room.agenda.now")) : null,
        time,
        mod && !current
          ? h("button", {
            type: "button", class: "small secondary", "data-fk": `start-${a.id}`,
            "aria-label": t("room.agenda.start_item", { n: a.position }),
            onclick: () => ctx.request("agenda.start", { item_id: a.id }),
          }, t("room.agenda.start"))
          : null,
        mod && current
          ? h("button", {
            type: "button", class: "small secondary", "data-fk": `end-${a.id}`,
            onclick: () => ctx.request("agenda.end"),
          }, t("room.agenda.end"))
          : null)));
  }

  function render(state) {
    const items = [...state.agenda].sort((a, b) => a.position - b.position);
    rerender(body, () =>
      items.length
        ? h("ol", { class: "agenda plain" }, items.map((a) => item(state, a)))
        : h("p", { class: "muted" }, t("room.agenda.empty")));
    tick();
  }

  function tick() {
    for (const el of body.querySelectorAll("[data-since]")) {
      const spent = Number(el.dataset.spent || 0) + (Date.now() - Date.parse(el.dataset.since)) / 1000;
      el.textContent = t("room.agenda.running", { time: duration(spent) });
    }
  }

  return { types: ["agenda.", "meeting.", "participant.promoted"], render, tick };
}
