// Tiny DOM helpers. User data only ever goes in through textContent or attribute values:
// there is no innerHTML anywhere in the room.

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", childNode, [more])
 * Strings become text nodes; null/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "text") {
      el.textContent = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (name in el && typeof el[name] !== "function" && !name.includes("-")) {
      el[name] = value;
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Replace a container's content, keeping keyboard focus on the "same" control: elements
 * that carry data-fk (a stable focus key) get focus back after the re-render, and open
 * <details data-key> disclosures stay open.
 */
export function rerender(container, build, { keepScroll = true } = {}) {
  const active = document.activeElement;
  const focusKey = active && container.contains(active) ? active.dataset.fk : undefined;
  const scroll = container.scrollTop;
  const open = [...container.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key);
  const fresh = build();
  container.replaceChildren(...(Array.isArray(fresh) ? fresh : [fresh]).filter(Boolean));
  for (const key of open) {
    const again = container.querySelector(`details[data-key="${CSS.escape(key)}"]`);
    if (again) again.open = true;
  }
  container.scrollTop = keepScroll ? scroll : 0;
  if (focusKey) {
    const again = container.querySelector(`[data-fk="${CSS.escape(focusKey)}"]`);
    if (again) again.focus();
  }
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]}»"']+$/;

/**
 * Chat text as nodes: plain text, with http(s) links made clickable. A link is created only
 * for a URL the browser parses as http: or https:; everything else stays text.
 */
export function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    const trail = raw.match(TRAILING);
    if (trail) raw = raw.slice(0, raw.length - trail[0].length);
    const start = match.index;
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    const a = document.createElement("a");
    a.href = url.href;
    a.textContent = raw;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    nodes.push(a);
    last = start + raw.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}
