// The side panels (chat, participants, agenda, polls, documents, and any panel an optional
// module adds) and their buttons in the control bar. One panel is open at a time: on a
// phone it covers the stage, on a computer it stands beside it.
//
// Adding a panel is one call: registerPanel({id, label, icon, key}) returns its body
// element (e.g. captions.js: `ctx.registerPanel({id: "captions", label: "Субтитры",
// icon: "captions", key: "KeyT"})`).

import { h } from "./dom.js";
import { icon } from "./icons.js";

/**
 * A control-bar button: an icon, a short visible label, the full action as tooltip and
 * accessible name, and its keyboard shortcut.
 */
export function barButton({ id, label, short, iconName, key, keyName, onclick, extra = {} }) {
  const title = keyName ? `${label} (${keyName})` : label;
  return h("button", {
    type: "button", id, class: "cb-button", title, "aria-label": label,
    "aria-keyshortcuts": keyName || null, "data-key": key || null, onclick, ...extra,
  }, icon(iconName), h("span", { class: "cb-label", "aria-hidden": "true" }, short || label),
  h("span", { class: "cb-badge", hidden: true }));
}

export function createPanels(ctx, root) {
  const { t } = ctx;
  const side = root.querySelector("#side");
  const bar = root.querySelector("#bar-panels");
  const panels = new Map(); // id -> {section, button, spec}
  let current = null;

  function open(id, { focus = true } = {}) {
    const next = id && panels.has(id) ? id : null;
    current = next;
    root.dataset.panel = next || "";
    side.hidden = next === null;
    for (const [pid, p] of panels) {
      const on = pid === next;
      p.section.hidden = !on;
      p.button.setAttribute("aria-expanded", on ? "true" : "false");
      p.button.classList.toggle("active", on);
      if (on) setBadge(pid, 0);
    }
    if (next && focus) {
      const target = panels.get(next).section.querySelector("[data-autofocus]") || panels.get(next).section.querySelector("h2");
      if (target) {
        if (!target.hasAttribute("tabindex") && target.tagName === "H2") target.tabIndex = -1;
        target.focus({ preventScroll: true });
      }
    }
    if (typeof ctx.onPanel === "function") ctx.onPanel(next);
  }

  function toggle(id) {
    open(current === id ? null : id);
  }

  function setBadge(id, n) {
    const p = panels.get(id);
    if (!p) return;
    const badge = p.button.querySelector(".cb-badge");
    const show = n > 0 && current !== id;
    badge.hidden = !show;
    badge.textContent = show ? (n > 99 ? "99+" : String(n)) : "";
    p.button.setAttribute("aria-label", show ? `${p.spec.label}: ${t("room.ui.new_count", { n })}` : p.spec.label);
  }

  /** Wire a side panel (an existing <section data-panel> or a new one) to a bar button. */
  function registerPanel(spec) {
    if (panels.has(spec.id)) return panels.get(spec.id).body;
    let section = side.querySelector(`[data-panel="${spec.id}"]`);
    if (!section) {
      section = h("section", { id: `${spec.id}-panel`, class: "side-panel", "data-panel": spec.id, "aria-labelledby": `${spec.id}-h`, hidden: true },
        h("h2", { id: `${spec.id}-h` }, spec.label),
        h("div", { class: "panel-body", id: `${spec.id}-body` }));
      side.append(section);
    }
    const heading = section.querySelector("h2");
    heading.append(h("button", {
      type: "button", class: "panel-close", title: t("room.ui.close_panel"), "aria-label": t("room.ui.close_panel_named", { name: spec.label }),
      onclick: () => { open(null); button.focus(); },
    }, icon("close")));
    const button = barButton({
      id: `panel-btn-${spec.id}`, label: spec.label, short: spec.short, iconName: spec.icon, key: spec.key,
      keyName: spec.keyName, onclick: () => toggle(spec.id),
      extra: { "aria-controls": section.id, "aria-expanded": "false", "data-panel-button": spec.id },
    });
    bar.append(button);
    panels.set(spec.id, { section, button, spec, body: section.querySelector(".panel-body") || section });
    return panels.get(spec.id).body;
  }

  // Keyboard: a panel's letter opens or closes it; Escape closes the open panel.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && current && !e.defaultPrevented) {
      const inside = panels.get(current).section.contains(document.activeElement);
      if (inside || !typing(document.activeElement)) {
        const button = panels.get(current).button;
        open(null);
        if (inside) button.focus();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    for (const [id, p] of panels) {
      if (p.spec.key && e.code === p.spec.key) {
        e.preventDefault();
        toggle(id);
        return;
      }
    }
  });

  return { registerPanel, open, toggle, setBadge, get current() { return current; } };
}

export function typing(target) {
  if (!target || !(target instanceof Element)) return false;
  return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], dialog[open]"));
}
