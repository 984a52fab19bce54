// Small line icons drawn as inline SVG (no emoji: school computers often lack an emoji font).

const NS = "http://www.w3.org/2000/svg";

const SHAPES = {
  hand: [["path", { d: "M8 13V5.5a1.5 1.5 0 0 1 3 0V12M11 11V4a1.5 1.5 0 0 1 3 0v7M14 11V5.5a1.5 1.5 0 0 1 3 0V13M17 9.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-7 7h-1a7 7 0 0 1-5.5-2.7L3.3 15.5a1.6 1.6 0 0 1 2.4-2.1L8 15.5" }]],
  mic: [["rect", { x: 9, y: 3, width: 6, height: 11, rx: 3 }], ["path", { d: "M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8" }]],
  volume: [["path", { d: "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6M19 6a8 8 0 0 1 0 12" }]],
  video: [["rect", { x: 2, y: 6, width: 14, height: 12, rx: 2 }], ["path", { d: "M16 10l6-4v12l-6-4z" }]],
  document: [["path", { d: "M6 2h8l5 5v15H6zM14 2v5h5M9 13h7M9 17h7" }]],
  lock: [["rect", { x: 5, y: 11, width: 14, height: 10, rx: 2 }], ["path", { d: "M8 11V7a4 4 0 0 1 8 0v4" }]],
  check: [["path", { d: "M5 12l5 5L20 7" }]],
  reply: [["path", { d: "M9 14L4 9l5-5M4 9h10a6 6 0 0 1 6 6v5" }]],
  close: [["path", { d: "M6 6l12 12M18 6L6 18" }]],
};

/** icon("hand") is decorative; icon("hand", "Рука поднята") is announced. */
export function icon(name, label = null) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const title = document.createElementNS(NS, "title");
    title.textContent = label;
    svg.appendChild(title);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  for (const [tag, attrs] of SHAPES[name] || []) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    svg.appendChild(el);
  }
  return svg;
}
