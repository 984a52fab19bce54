// The moderator's «Новое голосование» form, in a modal <dialog> (room enough on a small
// screen; Escape closes it; focus returns to the button that opened it).

import { h } from "./dom.js";

export function createPollDialog(ctx, root) {
  const { t } = ctx;
  const field = (label, control) => h("label", { class: "mini-field" }, h("span", {}, label), control);
  const check = (name, label, checked = false) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name, checked }), h("span", {}, label));

  const question = h("input", { name: "question", required: true, maxlength: 1000, id: "poll-question", autocomplete: "off" });
  const kind = h("select", { name: "kind", id: "poll-kind" },
    ["decision", "single", "multiple"].map((k) => h("option", { value: k }, t(`room.poll.kind.${k}`))));
  const decision = h("textarea", { name: "decision_text", rows: 3, maxlength: 5000, id: "poll-decision" });
  const rule = h("select", { name: "rule", id: "poll-rule" },
    ["majority_cast", "majority_present", "two_thirds"].map((r) => h("option", { value: r }, t(`room.poll.rule.${r}`))));
  const options = h("textarea", { name: "options", rows: 4, id: "poll-options", placeholder: t("room.poll.options_hint") });
  const minutes = h("input", { type: "number", name: "minutes", min: 1, max: 1440, id: "poll-minutes", inputmode: "numeric" });
  const decisionFields = h("div", {}, field(t("room.poll.decision_text"), decision), field(t("room.poll.rule_label"), rule));
  const optionsField = field(t("room.poll.options"), options);
  const attach = check("attach", t("room.poll.attach_check"), true);
  const sync = () => {
    optionsField.hidden = kind.value === "decision";
    decisionFields.hidden = kind.value !== "decision";
    attach.hidden = ctx.store.state.current_item_id === null;
  };
  kind.addEventListener("change", sync);

  const form = h("form", { class: "poll-create", id: "poll-create", method: "dialog" },
    h("h2", { id: "poll-dialog-title" }, t("room.poll.new")),
    field(t("room.poll.question"), question),
    field(t("room.poll.kind_label"), kind),
    decisionFields,
    optionsField,
    h("div", { class: "checks" },
      check("secret", t("room.poll.secret_check")),
      check("guests_vote", t("room.poll.guests_check")),
      check("allow_change", t("room.poll.change_check")),
      attach),
    field(t("room.poll.minutes"), minutes),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", name: "open_now", value: "1", id: "poll-create-open" }, t("room.poll.create_open")),
      h("button", { type: "submit", class: "secondary", name: "draft", value: "1", id: "poll-create-draft" }, t("room.poll.create_draft")),
      h("button", { type: "button", class: "link-button", onclick: () => dialog.close() }, t("room.common.cancel"))));
  const dialog = h("dialog", { class: "poll-dialog", id: "poll-dialog", "aria-labelledby": "poll-dialog-title" }, form);
  root.appendChild(dialog);
  let opener = null;
  dialog.addEventListener("close", () => {
    // The panel may have been re-rendered meanwhile: find the button again.
    const back = document.getElementById("new-poll") || opener;
    if (back) back.focus();
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const openNow = !(e.submitter && e.submitter.name === "draft");
    const data = new FormData(form);
    const payload = {
      question: String(data.get("question") || "").trim(),
      kind: kind.value,
      secret: data.get("secret") === "on",
      guests_vote: data.get("guests_vote") === "on",
      allow_change: data.get("allow_change") === "on",
    };
    if (!payload.question) {
      question.focus();
      ctx.toast(t("room.poll.question_needed"));
      return;
    }
    if (kind.value === "decision") {
      payload.decision_text = String(data.get("decision_text") || "").trim();
      payload.rule = rule.value;
    } else {
      payload.options = String(data.get("options") || "").split("\n").map((s) => s.trim()).filter(Boolean);
    }
    const mins = Number(data.get("minutes"));
    if (Number.isInteger(mins) && mins > 0) payload.closes_in_seconds = mins * 60;
    const current = ctx.store.state.current_item_id;
    if (data.get("attach") === "on" && current !== null) payload.agenda_item_id = current;
    const ack = await ctx.request("poll.create", payload);
    if (!ack.ok) return;
    if (openNow) await ctx.request("poll.open", { poll_id: ack.poll_id });
    form.reset();
    sync();
    dialog.close();
  });

  return {
    open(button) {
      opener = button || null;
      sync();
      dialog.showModal();
      question.focus();
    },
  };
}
