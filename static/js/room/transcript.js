// Transcription in the room (docs/transcript.md): the «Ведётся расшифровка» / «Идёт запись»
// banner (everyone is told on joining), the moderator's switches, captions («Субтитры»: each
// transcript.segment as it arrives, «И.О. Фамилия: текст») and the transcript panel (the
// meeting's segments so far, searchable, with times).
//
// Self-contained: it owns three containers of the room page — #transcript-banner (header),
// #captions (over the stage) and #transcript-slot (the panel) — and its own stylesheet
// (static/css/transcript.css). Mounted like the other optional panels (room.js).

import { h } from "./dom.js";
import { clockTime } from "./i18n.js";
import { displayName } from "./state.js";

const CAPTION_SECONDS = 10; // a caption stays this long (or until two newer ones push it out)
const CAPTIONS_SHOWN = 2;
const STORAGE_KEY = "smo.captions";

function normalise(text) {
  return String(text || "").toLowerCase().replaceAll("ё", "е");
}

export async function mountTranscript(slot, ctx) {
  const { t } = ctx;
  const banner = document.getElementById("transcript-banner");
  const captionsBox = document.getElementById("captions");
  const segments = []; // transcript.segment events, by seq
  const seen = new Set();
  let available = true;
  let query = "";
  let captionsOn = false;
  try {
    captionsOn = window.localStorage.getItem(STORAGE_KEY) === "on";
  } catch {
    captionsOn = false;
  }

  // --- the panel -----------------------------------------------------------------------------
  const search = h("input", {
    type: "search", id: "transcript-search", class: "transcript-search",
    placeholder: t("transcript.search"), "aria-label": t("transcript.search"),
    oninput: () => { query = normalise(search.value.trim()); renderList(); },
  });
  const captionsToggle = h("button", {
    type: "button", id: "captions-toggle", class: "small secondary captions-toggle",
    onclick: () => {
      captionsOn = !captionsOn;
      try { window.localStorage.setItem(STORAGE_KEY, captionsOn ? "on" : "off"); } catch { /* private mode */ }
      renderCaptionsToggle();
    },
  });
  const switches = h("div", { class: "transcript-switches", role: "group", "aria-label": t("transcript.panel") });
  const list = h("ol", { id: "transcript-list", class: "plain transcript-list", "aria-live": "polite" });
  const note = h("p", { class: "muted transcript-note" });
  slot.replaceChildren(
    h("div", { class: "transcript-panel" },
      h("div", { class: "transcript-tools" }, captionsToggle, search),
      switches, note, list),
  );

  function line(ev) {
    const p = ev.payload;
    return h("li", { class: "transcript-line", "data-seq": String(ev.seq) },
      h("time", { datetime: p.started_at, class: "muted small-text" }, clockTime(p.started_at)),
      " ",
      h("strong", { class: "who" }, displayName(ctx.state, p.participant)),
      ": ",
      h("span", { class: "said" }, p.text));
  }

  function renderList() {
    const shown = query
      ? segments.filter((ev) => normalise(ev.payload.text).includes(query)
        || normalise(displayName(ctx.state, ev.payload.participant)).includes(query))
      : segments;
    list.replaceChildren(...shown.map(line));
    if (!available) note.textContent = t("transcript.unavailable");
    else if (!segments.length) note.textContent = t("transcript.empty");
    else if (!shown.length) note.textContent = t("transcript.none_found");
    else note.textContent = "";
    list.scrollTop = list.scrollHeight;
  }

  function renderCaptionsToggle() {
    captionsToggle.textContent = t(captionsOn ? "transcript.captions.off" : "transcript.captions.on");
    captionsToggle.setAttribute("aria-pressed", captionsOn ? "true" : "false");
    if (captionsBox) captionsBox.hidden = !captionsOn;
  }

  function renderSwitches(state) {
    const meeting = state.meeting;
    if (!ctx.isModerator() || meeting.status === "ended" || meeting.status === "cancelled") {
      switches.replaceChildren();
      return;
    }
    const toggle = (which, on) => h("button", {
      type: "button", class: "small secondary", id: `${which}-switch`, "aria-pressed": on ? "true" : "false",
      disabled: which === "transcription" && !available && !on,
      onclick: () => ctx.request(`${which}.switch`, { on: !on }),
    }, t(`transcript.mod.${which}_${on ? "off" : "on"}`));
    switches.replaceChildren(toggle("transcription", Boolean(meeting.transcription)), toggle("recording", Boolean(meeting.recording)));
  }

  // --- the banner ----------------------------------------------------------------------------
  let told = false;
  function renderBanner(state) {
    if (!banner) return;
    const flags = [];
    if (state.meeting.recording) flags.push(h("span", { class: "badge rec-badge", id: "recording-badge" }, t("transcript.banner.recording")));
    if (state.meeting.transcription) flags.push(h("span", { class: "badge transcribing-badge", id: "transcription-badge" }, t("transcript.banner.transcription")));
    banner.replaceChildren(...flags);
    banner.hidden = !flags.length;
    if (!told && flags.length) {
      told = true; // told once on joining (and when switched on later: see onEvent)
      const says = [];
      if (state.meeting.recording) says.push(t("transcript.notice.recording"));
      if (state.meeting.transcription) says.push(t("transcript.notice.transcription"));
      if (ctx.toast) ctx.toast(says.join(" "), "ok");
    }
  }

  // --- captions ------------------------------------------------------------------------------
  function caption(ev) {
    if (!captionsBox || !captionsOn) return;
    const p = ev.payload;
    const el = h("p", { class: "caption", "data-seq": String(ev.seq) },
      h("strong", {}, displayName(ctx.state, p.participant)), ": ", p.text);
    captionsBox.appendChild(el);
    while (captionsBox.children.length > CAPTIONS_SHOWN) captionsBox.firstElementChild.remove();
    setTimeout(() => el.remove(), CAPTION_SECONDS * 1000);
  }

  function add(ev, live) {
    if (ev.type !== "transcript.segment" || seen.has(ev.seq)) return;
    seen.add(ev.seq);
    segments.push(ev);
    segments.sort((a, b) => a.seq - b.seq);
    if (live) caption(ev);
    renderList();
  }

  ctx.subscribe((ev, state) => {
    if (ev === null) {
      renderBanner(state);
      renderSwitches(state);
      return;
    }
    if (ev.type === "transcript.segment") add(ev, true);
    else if (ev.type === "transcription.switched" || ev.type === "recording.switched") {
      if (ev.payload.on) told = false; // switched on while we are here: say so
      renderBanner(state);
      renderSwitches(state);
    } else if (ev.type.startsWith("participant.") || ev.type.startsWith("meeting.")) {
      renderSwitches(state);
    }
  });

  const listed = await ctx.request("transcript.list", {});
  if (listed && listed.ok) {
    available = Boolean(listed.available);
    for (const ev of listed.segments || []) add(ev, false);
  }
  renderCaptionsToggle();
  renderBanner(ctx.state);
  renderSwitches(ctx.state);
  renderList();
  slot.dataset.ready = "true";
}
