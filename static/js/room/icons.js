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
  "mic-off": [["path", { d: "M9 9v2a3 3 0 0 0 5.1 2.1M15 10V6a3 3 0 0 0-5.7-1.3M5 11a7 7 0 0 0 11.5 5.4M19 11a7 7 0 0 1-.6 2.8M12 18v3M8 21h8M3 3l18 18" }]],
  "video-off": [["path", { d: "M16 16v1a1 1 0 0 1-1 1H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h2M10 6h4a2 2 0 0 1 2 2v2l6-4v12M3 3l18 18" }]],
  screen: [["rect", { x: 2, y: 4, width: 20, height: 13, rx: 2 }], ["path", { d: "M8 21h8M12 17v4M12 14V8M9 10l3-3 3 3" }]],
  smile: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M8 14a4.5 4.5 0 0 0 8 0M9 9.5h.01M15 9.5h.01" }]],
  chat: [["path", { d: "M4 5h16v11H9l-5 4z" }]],
  users: [["circle", { cx: 9, cy: 8, r: 3.5 }], ["path", { d: "M2.5 20a6.5 6.5 0 0 1 13 0M16 4.5a3.5 3.5 0 0 1 0 7M18 14a6 6 0 0 1 3.5 6" }]],
  agenda: [["path", { d: "M9 6h11M9 12h11M9 18h11M4 6h.01M4 12h.01M4 18h.01" }]],
  poll: [["path", { d: "M4 20V10M10 20V4M16 20v-7M22 20H2" }]],
  captions: [["rect", { x: 2, y: 5, width: 20, height: 14, rx: 2 }], ["path", { d: "M10 10.5a2 2 0 1 0 0 3M17 10.5a2 2 0 1 0 0 3" }]],
  leave: [["path", { d: "M15 4h4a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1h-4M10 16l-4-4 4-4M6 12h10" }]],
  shield: [["path", { d: "M12 3l8 3v5c0 5-3.4 8.5-8 10-4.6-1.5-8-5-8-10V6z" }]],
  pin: [["path", { d: "M9 4h6l-1 6 3 3H7l3-3zM12 13v8" }]],
  fullscreen: [["path", { d: "M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" }]],
  signal: [["path", { d: "M4 20v-3M9 20v-7M14 20V9M19 20V4" }]],
  grid: [["rect", { x: 3, y: 3, width: 8, height: 8, rx: 1 }], ["rect", { x: 13, y: 3, width: 8, height: 8, rx: 1 }], ["rect", { x: 3, y: 13, width: 8, height: 8, rx: 1 }], ["rect", { x: 13, y: 13, width: 8, height: 8, rx: 1 }]],
  settings: [["circle", { cx: 12, cy: 12, r: 3 }], ["path", { d: "M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1" }]],
  thumb: [["path", { d: "M7 11v9H4v-9zM7 11l4-8a2 2 0 0 1 2 2v4h6a2 2 0 0 1 2 2.3l-1.2 7A2 2 0 0 1 17.8 20H7" }]],
  question: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17h.01" }]],
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
