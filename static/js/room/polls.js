// Polls: an open poll's ballot is shown big in the centre of the room (the moment's main
// action); the panel on the right lists every poll, with the frozen results of closed ones.
// Moderators create polls (poll_form.js), open drafts and close open polls.

import { h, rerender } from "./dom.js";
import { duration } from "./i18n.js";
import { icon } from "./icons.js";
import { createPollDialog } from "./poll_form.js";

const DECISION_CLASSES = ["for", "against", "abstain"];

export function createPollsPanel(ctx, body, ballotBox, root) {
  const { t } = ctx;
  const choices = new Map(); // poll id -> Set of option indexes being chosen (survives re-renders)
  const myVotes = new Map(); // poll id -> choices acknowledged by the server
  const expanded = new Map(); // closed poll id -> shown in full (the newest closed one by default)
  const dialog = createPollDialog(ctx, root);
  let lastShape = "";
  const collapsed = new Set(); // open polls folded into a one-line toast by this person
  let justClosed = null; // a poll closed while we watched: its result is shown in the centre until dismissed

  function myChoices(poll) {
    if (myVotes.has(poll.poll_id)) return myVotes.get(poll.poll_id);
    if (poll.votes && poll.votes[ctx.me()]) return poll.votes[ctx.me()];
    return null;
  }

  const optionLabel = (poll, i) => (poll.kind === "decision" ? t(`room.poll.decision.${i}`) : poll.options[i]);
  const indexes = (poll) => (poll.kind === "decision" ? [0, 1, 2] : poll.options.map((_, i) => i));

  function voteForm(state, poll) {
    const pid = poll.poll_id;
    const me = state.participants[ctx.me()];
    if (me && me.role === "guest" && !poll.guests_vote) {
      return h("p", { class: "muted" }, t("room.poll.guests_excluded"));
    }
    const voted = myChoices(poll);
    const votedNote = voted
      ? h("p", { class: "voted", role: "status" }, icon("check"), ` ${t("room.poll.voted")}`,
        poll.secret ? null : h("span", { class: "muted" }, ` (${voted.map((i) => optionLabel(poll, i)).join(", ")})`))
      : null;
    if (voted && !poll.allow_change) return votedNote;
    if (!choices.has(pid)) choices.set(pid, new Set(voted || []));
    const chosen = choices.get(pid);
    const multiple = poll.kind === "multiple";
    const name = `poll-${pid}`;
    const options = indexes(poll).map((i) =>
      h("label", { class: `option option-${poll.kind === "decision" ? DECISION_CLASSES[i] : "plain"}` },
        h("input", {
          type: multiple ? "checkbox" : "radio", name, value: String(i), checked: chosen.has(i), "data-fk": `${name}-${i}`,
          onchange: (e) => {
            if (!multiple) chosen.clear();
            if (e.target.checked) chosen.add(i);
            else chosen.delete(i);
          },
        }),
        h("span", {}, optionLabel(poll, i))));
    const submit = h("button", { type: "submit", class: "vote-button", "data-fk": `${name}-submit` },
      voted ? t("room.poll.change_vote") : t("room.poll.vote"));
    return h("form", {
      class: "vote-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const picked = [...chosen].sort((a, b) => a - b);
        if (picked.length === 0) {
          ctx.toast(t("room.poll.choose"));
          return;
        }
        submit.disabled = true;
        const ack = await ctx.request("vote.cast", { poll_id: pid, choices: picked });
        submit.disabled = false;
        if (ack.ok) {
          myVotes.set(pid, picked);
          choices.delete(pid);
          ctx.announce(t("room.poll.voted"));
          render(ctx.store.state);
        }
      },
    },
    h("fieldset", { class: `options kind-${poll.kind}` }, h("legend", { class: "sr-only" }, poll.question), options),
    votedNote,
    submit);
  }

  function resultView(poll) {
    const r = poll.result;
    const total = r.cast || 0;
    return h("div", { class: "result" },
      poll.kind === "decision" && r.outcome
        ? h("p", { class: `outcome outcome-${r.outcome}` },
          t(`room.poll.outcome.${r.outcome}`), r.unanimous ? ` (${t("room.poll.unanimous")})` : "")
        : null,
      h("ul", { class: "bars plain" }, indexes(poll).map((i) => {
        const n = r.counts[i] || 0;
        const pct = total ? Math.round((n / total) * 100) : 0;
        return h("li", {},
          h("span", { class: "bar-label" }, optionLabel(poll, i)),
          h("span", { class: "bar", role: "img", "aria-label": `${n} (${pct}%)` }, h("span", { class: "bar-fill", style: `width:${pct}%` })),
          h("span", { class: "bar-count" }, String(n)));
      })),
      h("p", { class: "muted small-text" },
        t("room.poll.turnout", { cast: r.cast, present: r.present, eligible: r.eligible }), " · ",
        t(r.quorum ? "room.poll.quorum_yes" : "room.poll.quorum_no")));
  }

  function badges(state, poll, withStatus) {
    const item = poll.agenda_item_id ? state.agenda.find((a) => a.id === poll.agenda_item_id) : null;
    return h("header", {},
      withStatus ? h("span", { class: `badge poll-status-${poll.status}` }, t(`room.poll.status.${poll.status}`)) : null,
      h("span", { class: "badge" }, t(poll.secret ? "room.poll.secret" : "room.poll.named")),
      item ? h("span", { class: "muted small-text" }, t("room.poll.item", { n: item.position })) : null);
  }

  function moderatorButtons(state, poll) {
    if (!ctx.isModerator() || state.meeting.status !== "live") return null;
    if (poll.status === "draft") {
      return h("button", { type: "button", class: "small", "data-fk": `open-${poll.poll_id}`, onclick: () => ctx.request("poll.open", { poll_id: poll.poll_id }) },
        t("room.poll.open"));
    }
    if (poll.status === "open") {
      return h("button", { type: "button", class: "small danger close-poll", "data-fk": `close-${poll.poll_id}`, onclick: () => ctx.request("poll.close", { poll_id: poll.poll_id }) },
        t("room.poll.close"));
    }
    return null;
  }

  /** A folded ballot: one line over the stage, «Голосовать» unfolds it. */
  function folded(poll) {
    return h("div", { class: "ballot-toast", "data-poll": String(poll.poll_id), role: "status" },
      icon("poll"), h("span", { class: "toast-question" }, poll.question),
      h("button", {
        type: "button", class: "small", "data-fk": `unfold-${poll.poll_id}`,
        onclick: () => { collapsed.delete(poll.poll_id); render(ctx.store.state); },
      }, t(myChoices(poll) ? "room.ui.poll_show" : "room.ui.poll_vote")));
  }

  /** The ballot over the stage: a compact card, one per open poll; it folds into a toast. */
  function ballot(state, poll) {
    if (collapsed.has(poll.poll_id)) return folded(poll);
    return h("article", { class: "ballot poll poll-open", "data-poll": String(poll.poll_id), "aria-labelledby": `ballot-q-${poll.poll_id}` },
      h("div", { class: "ballot-head" }, badges(state, poll, true),
        h("button", {
          type: "button", class: "link-button fold", "data-fk": `fold-${poll.poll_id}`,
          "aria-label": t("room.ui.poll_fold_named", { question: poll.question }),
          onclick: () => { collapsed.add(poll.poll_id); render(ctx.store.state); },
        }, t("room.ui.poll_fold"))),
      h("h3", { class: "poll-question", id: `ballot-q-${poll.poll_id}` }, poll.question),
      poll.decision_text ? h("p", { class: "decision-text" }, poll.decision_text) : null,
      voteForm(state, poll),
      h("div", { class: "ballot-foot" },
        h("span", { class: "muted small-text ballots" }, t("room.poll.ballots", { n: poll.ballots || 0 })),
        poll.closes_in_seconds && poll.opened_at
          ? h("span", {
            class: "countdown small-text",
            "data-closes": new Date(Date.parse(poll.opened_at) + poll.closes_in_seconds * 1000).toISOString(),
          })
          : null,
        moderatorButtons(state, poll)));
  }

  /** The result of a poll that has just closed, in the centre until dismissed. */
  function resultCard(state, poll) {
    return h("article", { class: "ballot ballot-result poll", "data-poll": String(poll.poll_id), "aria-labelledby": `result-q-${poll.poll_id}` },
      h("header", {},
        h("span", { class: "badge poll-status-closed" }, t("room.poll.results")),
        h("button", {
          type: "button", class: "link-button dismiss", "data-fk": "dismiss-result",
          onclick: () => { justClosed = null; render(ctx.store.state); },
        }, t("room.poll.hide"))),
      h("h3", { class: "poll-question", id: `result-q-${poll.poll_id}` }, poll.question),
      poll.decision_text ? h("p", { class: "decision-text" }, poll.decision_text) : null,
      resultView(poll));
  }

  /** A row of the panel on the right. */
  function listed(state, poll, newest) {
    if (poll.status === "closed") {
      if (!expanded.has(poll.poll_id)) expanded.set(poll.poll_id, newest);
      const outcome = poll.result && poll.result.outcome;
      const details = h("details", { class: "poll poll-closed", "data-poll": String(poll.poll_id), open: expanded.get(poll.poll_id) },
        h("summary", { "data-fk": `sum-${poll.poll_id}` },
          outcome
            ? h("span", { class: `badge outcome-badge outcome-${outcome}` }, t(`room.poll.outcome_short.${outcome}`))
            : h("span", { class: "badge poll-status-closed" }, t("room.poll.status.closed")),
          h("span", { class: "summary-question" }, poll.question)),
        h("div", { class: "poll-inner" }, badges(state, poll, false),
          poll.decision_text ? h("p", { class: "decision-text" }, poll.decision_text) : null,
          poll.result ? resultView(poll) : null));
      details.addEventListener("toggle", () => expanded.set(poll.poll_id, details.open));
      return details;
    }
    return h("div", { class: `poll poll-row poll-${poll.status}`, "data-poll-row": String(poll.poll_id) },
      badges(state, poll, true),
      h("p", { class: "row-question" }, poll.question),
      poll.status === "open" ? h("p", { class: "muted small-text" }, t("room.poll.ballots", { n: poll.ballots || 0 })) : null,
      poll.status === "draft" ? moderatorButtons(state, poll) : null);
  }

  function render(state) {
    const mod = ctx.isModerator() && state.meeting.status === "live";
    const order = { open: 0, draft: 1, closed: 2 };
    const polls = Object.values(state.polls)
      .filter((p) => p.status !== "draft" || ctx.isModerator())
      .sort((a, b) => order[a.status] - order[b.status] || b.poll_id - a.poll_id);
    const open = polls.filter((p) => p.status === "open");
    const newestClosed = polls.find((p) => p.status === "closed");
    // Keep the scroll position unless the list itself changed (a poll created, opened, closed).
    const shape = polls.map((p) => `${p.poll_id}:${p.status}`).join(",");
    const keepScroll = shape === lastShape;
    lastShape = shape;
    rerender(body, () => [
      mod
        ? h("button", {
          type: "button", class: "small secondary new-poll", id: "new-poll", "data-fk": "new-poll",
          onclick: (e) => dialog.open(e.currentTarget),
        }, `+ ${t("room.poll.new")}`)
        : null,
      ...polls.map((p) => listed(state, p, p === newestClosed)),
      polls.length === 0 && !mod ? h("p", { class: "muted" }, t("room.poll.none")) : null,
    ], { keepScroll });
    const result = justClosed !== null && state.polls[justClosed] && state.polls[justClosed].result ? state.polls[justClosed] : null;
    ballotBox.hidden = open.length === 0 && !result;
    rerender(ballotBox, () => [...open.map((p) => ballot(state, p)), result ? resultCard(state, result) : null]);
    tick();
    document.getElementById("polls-panel").classList.toggle("has-open", open.length > 0);
  }

  function tick() {
    for (const el of ballotBox.querySelectorAll("[data-closes]")) {
      const left = (Date.parse(el.dataset.closes) - Date.now()) / 1000;
      el.textContent = left > 0 ? t("room.poll.closes_in", { time: duration(left) }) : t("room.poll.closing");
    }
  }

  function onEvent(ev, state) {
    if (ev.type === "poll.opened") {
      justClosed = null;
      ctx.announce(t("room.poll.opened_announce"));
    }
    if (ev.type === "poll.closed") justClosed = ev.payload.poll_id;
    if (["poll.", "vote.", "meeting.", "participant.promoted", "agenda."].some((p) => ev.type.startsWith(p))) render(state);
  }

  return { types: ["poll.", "vote.", "meeting."], render, onEvent, tick };
}
