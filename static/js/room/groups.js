// Breakout groups («Работа в группах», docs/groups.md).
//
// The moderator's panel: the number of groups, assignment at random or by hand (a select per
// person), names, tasks, the duration, «Начать»; while the groups work: a message to all groups,
// visiting a group and coming back, moving a person, «Продлить», «Завершить». Everyone in a group
// sees a banner over the stage: the group's name and task, the time left, «Позвать ведущего».
// After the end the groups' documents are listed in the panel for the report-back.
//
// The groups' state comes from the server's fold (groups.state), re-read whenever a groups.*
// event arrives or the page (re)joins; the stage and the chat show one's own room only
// (ctx.sameRoom for media.js, ctx.onRoom for the chat). The media connection itself is moved by
// the server between the meeting's rooms, over the same connection: media.js only gets a new
// slot map ("media.slots").

import { h } from "./dom.js";
import { duration } from "./i18n.js";
import { displayName } from "./state.js";

const DEFAULT_MINUTES = 15;
const EXTEND_SECONDS = 300;

export async function mountGroups(slot, ctx) {
  const { t } = ctx;
  if (!document.querySelector("link[data-groups-css]")) {
    document.head.append(h("link", { rel: "stylesheet", href: "/static/css/groups.css", "data-groups-css": true }));
  }
  let info = { groups: { status: "none", groups: [], visiting: {}, calls: {} }, room: null };
  let draft = { count: 3, random: true, names: [], tasks: [], minutes: DEFAULT_MINUTES, assign: {} };

  const banner = h("div", { id: "groups-banner", class: "groups-banner", hidden: true, role: "region", "aria-label": t("groups.panel") });
  const stage = document.getElementById("stage") || document.getElementById("stage-area");
  if (stage && stage.parentNode) stage.parentNode.insertBefore(banner, stage);
  slot.classList.add("groups-panel");

  const g = () => info.groups;
  const running = () => g().status === "running";
  const byId = (id) => g().groups.find((x) => x.id === id);
  const me = () => ctx.me;

  function roomOf(key) {
    if (!running()) return null;
    if (g().visiting && g().visiting[key] !== undefined) return g().visiting[key];
    const group = g().groups.find((x) => x.members.includes(key));
    return group ? group.id : null;
  }
  // media.js and the chat show one's own room only.
  ctx.sameRoom = (key) => roomOf(key) === roomOf(me());
  const chatRoom = () => roomOf(me());
  if (ctx.onRoom) ctx.onRoom(chatRoom);

  function left() {
    if (!running() || !g().ends_at) return 0;
    return Math.max(0, Math.round((Date.parse(g().ends_at) - Date.now()) / 1000));
  }

  async function refresh() {
    const ack = await ctx.request("groups.state", {});
    if (!ack.ok) return;
    const before = roomOf(me());
    info = { groups: ack.groups, room: ack.room };
    render();
    if (before !== roomOf(me()) && ctx.onRoom) ctx.onRoom(chatRoom);
  }

  // --- the participant's banner --------------------------------------------------------------
  const countdown = h("span", { class: "groups-countdown", role: "timer", "aria-live": "off" });
  function renderBanner() {
    const room = roomOf(me());
    const group = room !== null ? byId(room) : null;
    if (!group) {
      banner.hidden = true;
      return;
    }
    const visiting = g().visiting && g().visiting[me()] !== undefined;
    const call = !visiting
      ? h("button", { type: "button", class: "small groups-call", onclick: callModerator }, t("groups.call"))
      : h("button", { type: "button", class: "small secondary groups-leave", onclick: () => ctx.request("groups.leave", {}) }, t("groups.leave"));
    banner.replaceChildren(
      h("strong", { class: "groups-where" }, t(visiting ? "groups.visiting" : "groups.you_are_in", { name: group.name })),
      group.task ? h("span", { class: "groups-task" }, group.task) : null,
      countdown,
      call,
    );
    tick();
    banner.hidden = false;
  }

  async function callModerator() {
    const ack = await ctx.request("groups.call_moderator", {});
    if (ack.ok) ctx.toast(t("groups.call_sent"), "info");
  }

  function tick() {
    const text = running() ? t("groups.left_time", { time: duration(left()) }) : "";
    countdown.textContent = text;
    const panelTimer = slot.querySelector(".groups-panel-timer");
    if (panelTimer) panelTimer.textContent = text;
  }
  setInterval(tick, 1000);

  // --- the moderator's panel ------------------------------------------------------------------
  function people() {
    const state = ctx.state || { participants: {} };
    return Object.entries(state.participants)
      .filter(([, p]) => p.connected && !p.removed && !p.waiting && p.admitted !== false && !p.moderator)
      .map(([key]) => key);
  }

  function nameOf(key) {
    return displayName(ctx.state, key);
  }

  function setupForm() {
    const count = h("input", { type: "number", id: "groups-count", min: 1, max: 20, value: draft.count, class: "groups-count" });
    count.addEventListener("change", () => {
      draft.count = Math.min(20, Math.max(1, Number(count.value) || 1));
      render();
    });
    const randomBox = h("input", { type: "radio", name: "groups-assign", id: "groups-random", checked: draft.random });
    const manualBox = h("input", { type: "radio", name: "groups-assign", id: "groups-manual", checked: !draft.random });
    randomBox.addEventListener("change", () => { draft.random = true; render(); });
    manualBox.addEventListener("change", () => { draft.random = false; render(); });
    const fields = [];
    for (let i = 0; i < draft.count; i++) {
      const name = h("input", { type: "text", maxlength: 100, class: "groups-name", id: `groups-name-${i}`, placeholder: t("groups.default_name", { n: i + 1 }), value: draft.names[i] || "", "aria-label": t("groups.name", { n: i + 1 }) });
      name.addEventListener("input", () => { draft.names[i] = name.value; });
      const task = h("textarea", { rows: 2, maxlength: 2000, class: "groups-task-input", id: `groups-task-${i}`, "aria-label": `${t("groups.task")} ${i + 1}`, placeholder: t("groups.task") });
      task.value = draft.tasks[i] || "";
      task.addEventListener("input", () => { draft.tasks[i] = task.value; });
      fields.push(h("fieldset", { class: "groups-def" }, h("legend", {}, t("groups.default_name", { n: i + 1 })), name, task));
    }
    let manual = null;
    if (!draft.random) {
      const rows = people().map((key) => {
        const select = h("select", { class: "groups-pick", "data-participant": key, "aria-label": t("groups.member_of", { name: nameOf(key) }) },
          h("option", { value: "" }, t("groups.main_room")),
          ...Array.from({ length: draft.count }, (_, i) => h("option", { value: String(i), selected: draft.assign[key] === i }, draft.names[i] || t("groups.default_name", { n: i + 1 }))));
        select.addEventListener("change", () => {
          if (select.value === "") delete draft.assign[key];
          else draft.assign[key] = Number(select.value);
        });
        return h("li", {}, h("span", {}, nameOf(key)), " ", select);
      });
      manual = h("ul", { class: "plain groups-assign-list" }, rows.length ? rows : h("li", { class: "muted" }, t("groups.nobody")));
    }
    const minutes = h("input", { type: "number", id: "groups-minutes", min: 1, max: 240, value: draft.minutes, class: "groups-minutes" });
    minutes.addEventListener("change", () => { draft.minutes = Number(minutes.value) || DEFAULT_MINUTES; });
    const start = h("button", { type: "button", id: "groups-start", class: "groups-start" }, t("groups.start"));
    start.addEventListener("click", async () => {
      const groups = Array.from({ length: draft.count }, (_, i) => ({
        name: (draft.names[i] || "").trim(),
        task: (draft.tasks[i] || "").trim(),
        members: draft.random ? [] : Object.entries(draft.assign).filter(([, gi]) => gi === i).map(([key]) => key),
      }));
      start.disabled = true;
      const ack = await ctx.request("groups.start", { groups, duration: Math.round(draft.minutes * 60), random: draft.random });
      start.disabled = false;
      if (ack.ok) await refresh();
    });
    return h("form", { class: "groups-form", onsubmit: (e) => e.preventDefault() },
      h("label", { for: "groups-count" }, t("groups.count"), " ", count),
      h("fieldset", { class: "groups-assign" }, h("legend", {}, t("groups.assign")),
        h("label", {}, randomBox, " ", t("groups.assign.random")), " ",
        h("label", {}, manualBox, " ", t("groups.assign.manual"))),
      ...fields,
      manual,
      h("label", { for: "groups-minutes" }, t("groups.duration"), " ", minutes),
      h("p", {}, start));
  }

  function runningView() {
    const text = h("input", { type: "text", maxlength: 1000, id: "groups-broadcast-text", "aria-label": t("groups.broadcast"), placeholder: t("groups.broadcast") });
    const send = h("button", { type: "submit", id: "groups-broadcast-send" }, t("groups.broadcast_send"));
    const broadcast = h("form", { class: "groups-broadcast" }, text, send);
    broadcast.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      const ack = await ctx.request("groups.broadcast", { text: text.value.trim() });
      if (ack.ok) text.value = "";
    });
    const myVisit = g().visiting ? g().visiting[me()] : undefined;
    const cards = g().groups.map((group) => {
      const called = g().calls && g().calls[String(group.id)];
      const members = group.members.map((key) => {
        const select = h("select", { class: "groups-move", "data-participant": key, "aria-label": `${t("groups.move")}: ${nameOf(key)}` },
          h("option", { value: "" }, t("groups.main_room")),
          ...g().groups.map((x) => h("option", { value: String(x.id), selected: x.id === group.id }, x.name)));
        select.addEventListener("change", () => ctx.request("groups.move", { participant: key, group: select.value === "" ? null : Number(select.value) }));
        return h("li", {}, h("span", {}, nameOf(key)), " ", select);
      });
      const visit = myVisit === group.id
        ? h("button", { type: "button", class: "small secondary", onclick: () => ctx.request("groups.leave", {}) }, t("groups.leave"))
        : h("button", { type: "button", class: "small groups-visit", "data-group": group.id, onclick: () => ctx.request("groups.visit", { group: group.id }) }, t("groups.visit"));
      return h("section", { class: `groups-card${called ? " called" : ""}`, "data-group": group.id },
        h("h3", {}, group.name),
        group.task ? h("p", { class: "groups-task" }, group.task) : null,
        called ? h("p", { class: "groups-calling", role: "status" }, t("groups.called", { name: group.name })) : null,
        h("ul", { class: "plain groups-members" }, members.length ? members : h("li", { class: "muted" }, t("groups.nobody"))),
        visit);
    });
    // People present but in no group: the moderator can put them in one.
    const placed = new Set(g().groups.flatMap((x) => x.members));
    const loose = people().filter((key) => !placed.has(key)).map((key) => {
      const select = h("select", { class: "groups-move", "data-participant": key, "aria-label": `${t("groups.move")}: ${nameOf(key)}` },
        h("option", { value: "" }, t("groups.main_room")),
        ...g().groups.map((x) => h("option", { value: String(x.id) }, x.name)));
      select.addEventListener("change", () => ctx.request("groups.move", { participant: key, group: select.value === "" ? null : Number(select.value) }));
      return h("li", {}, h("span", {}, nameOf(key)), " ", select);
    });
    const extend = h("button", { type: "button", id: "groups-extend", class: "secondary", onclick: () => ctx.request("groups.extend", { seconds: EXTEND_SECONDS }) }, t("groups.extend"));
    // «Завершить» asks once more, in the panel (no browser dialog).
    const sure = h("p", { class: "groups-confirm", role: "alert", hidden: true }, t("groups.end_confirm"), " ",
      h("button", { type: "button", id: "groups-end-confirm", class: "danger small", onclick: () => ctx.request("groups.end", {}) }, t("groups.end_sure")), " ",
      h("button", { type: "button", class: "secondary small", onclick: () => { sure.hidden = true; } }, t("groups.cancel")));
    const end = h("button", { type: "button", id: "groups-end", class: "danger", onclick: () => { sure.hidden = false; } }, t("groups.end"));
    return h("div", { class: "groups-running" },
      h("p", { class: "groups-status" }, h("strong", {}, t("groups.running")), " ", h("span", { class: "groups-panel-timer", role: "timer" })),
      broadcast,
      ...cards,
      loose.length ? h("section", { class: "groups-card" }, h("h3", {}, t("groups.main_room")), h("ul", { class: "plain" }, loose)) : null,
      h("p", { class: "groups-actions" }, extend, " ", end),
      sure);
  }

  function results() {
    if (g().status !== "ended" || !g().groups.length) return null;
    const items = g().groups.map((group) => h("li", {},
      h("button", { type: "button", class: "link-button groups-doc", "data-doc": group.doc_id, onclick: () => openDocument(group) },
        t("groups.open_doc", { title: group.name }))));
    return h("section", { class: "groups-results" }, h("h3", {}, t("groups.results")), h("ul", { class: "plain" }, items));
  }

  function openDocument(group) {
    if (ctx.openPanel) ctx.openPanel("documents");
    const wanted = String(group.doc_id);
    setTimeout(() => {
      const docs = document.getElementById("documents-slot");
      const button = docs && [...docs.querySelectorAll("button")].find((b) => b.dataset.docId === wanted || b.textContent.includes(`группы ${g().groups.indexOf(group) + 1}`));
      if (button) button.click();
    }, 100);
  }

  function render() {
    renderBanner();
    const moderator = ctx.isModerator();
    const parts = [];
    if (moderator && running()) parts.push(runningView());
    else if (running()) {
      const group = byId(roomOf(me()));
      parts.push(h("p", {}, group ? t("groups.you_are_in", { name: group.name }) : t("groups.running")), h("p", { class: "groups-panel-timer", role: "timer" }));
    }
    const done = results();
    if (done) parts.push(done);
    if (moderator && !running()) parts.push(setupForm());
    if (!parts.length) parts.push(h("p", { class: "muted" }, t("groups.main_room")));
    slot.replaceChildren(...parts);
    slot.dataset.status = g().status;
    slot.dataset.room = String(roomOf(me()) ?? "");
    tick();
  }

  ctx.subscribe((ev) => {
    if (ev === null) { refresh(); return; } // (re)joined: the snapshot may say anything
    if (ev.type === "groups.broadcast") ctx.toast(t("groups.broadcast_from", { text: ev.payload.text }), "info");
    if (ev.type === "groups.call_moderator" && ctx.isModerator()) {
      const group = byId(ev.payload.group);
      ctx.toast(t("groups.called", { name: group ? group.name : String(ev.payload.group) }), "info");
    }
    if (ev.type === "groups.ended") ctx.toast(t("groups.ended"), "info");
    if (ev.type.startsWith("groups.")) refresh();
    else if (ev.type.startsWith("participant.") && ctx.isModerator() && !running()) render();
  });
  await refresh();
}

export default mountGroups;
