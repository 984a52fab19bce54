// The room's audio, video and screen sharing: one RTCPeerConnection to the server's SFU,
// and the stage that shows it. The page always offers (first with receive slots only, again
// whenever a track is added or removed); the server answers and tells which slot carries
// whom ("media.slots"). Works without camera or microphone: a teacher can still watch,
// listen, chat and vote.
//
// The stage: one tile per person present (video when their camera is forwarded, else their
// initials), a shared screen large with the people beside or under it, else a grid; a pinned
// tile takes the large place; the stage or one tile goes full screen.

import { icon } from "./icons.js";
import { stopTracks, track as remember } from "./prejoin.js";
import { layoutStage } from "./stage_layout.js";
import { handsHere } from "./hands.js";

const GATHER_TIMEOUT_MS = 3000;
const SOURCES = ["mic", "camera", "screen"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function waitGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); clearTimeout(timer); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function initials(name) {
  const words = String(name || "?").replace(/[«»"]/g, "").split(/[\s.]+/).filter(Boolean);
  const last = words[words.length - 1] || "?";
  return (words.length > 1 ? words[0][0] + last[0] : last.slice(0, 2)).toUpperCase();
}

export async function mountMedia(slot, ctx) {
  const { t } = ctx;
  if (!document.querySelector("link[data-media-css]")) {
    document.head.append(el("link", { rel: "stylesheet", href: "/static/css/media.css", "data-media-css": true }));
  }
  const media = {
    pc: null, config: null, tx: {}, tracks: {}, slots: {}, videos: {}, audios: {}, kinds: {},
    muted: false, locked: false, busy: Promise.resolve(), pinned: null, view: "auto", released: false,
    quality: {}, // mid -> "good" | "fair" | "poor"
    mics: null, // who has a microphone on (from the server), null before the first answer
    slotsSeen: false, // a media.slots arrived since the last offer was sent
    rebuildPending: false,
    retired: new Set(), // ICE username fragments of the connections we replaced
  };
  window.smoMedia = media; // for diagnostics and the browser tests (getStats)

  // --- the control bar: microphone, camera, screen ---------------------------------------------
  const button = (id, iconName, key, keyName, onclick) => {
    const b = ctx.barButton({ id, label: "", iconName, key, keyName, onclick });
    b.classList.add(`media-${id.replace("media-", "")}`);
    return b;
  };
  const micButton = button("media-mic", "mic", "KeyM", "M", () => toggleMic());
  const camButton = button("media-camera", "video", "KeyV", "V", () => toggleCamera());
  const screenButton = button("media-screen", "screen", "KeyS", "S", () => toggleScreen());
  if (ctx.bar) ctx.bar.replaceChildren(micButton, camButton, screenButton);

  const status = el("span", { class: "media-status", role: "status" }, t("media.status.connecting"));
  if (ctx.statusSlot) ctx.statusSlot.replaceChildren(status);

  // --- moderator items (in the room's moderator menu) ------------------------------------------
  const muteAllButton = el("button", { type: "button", class: "menu-item media-mute-all", "data-fk": "mute-all" }, icon("mic-off"), ` ${t("media.mod.mute_all")}`);
  const lockButton = el("button", { type: "button", class: "menu-item media-lock", "data-fk": "mic-lock" });

  // --- the stage ---------------------------------------------------------------------------------
  const tiles = el("div", { class: "stage-tiles", "aria-live": "off" });
  const strip = el("div", { class: "stage-strip" });
  const mainBox = el("div", { class: "stage-main" });
  const fullButton = el("button", {
    type: "button", class: "stage-tool stage-full", title: t("room.ui.stage_full"), "aria-label": t("room.ui.stage_full"),
    onclick: () => fullscreen(document.getElementById("stage-area")),
  }, icon("fullscreen"));
  const viewButton = el("button", { type: "button", class: "stage-tool stage-view", onclick: () => switchView() }, icon("grid"));
  const sharing = el("div", { class: "stage-sharing", hidden: true, role: "status" });
  const audioBox = el("div", { hidden: true });
  slot.replaceChildren(el("div", { class: "stage-tools" }, viewButton, fullButton), sharing, mainBox, strip, tiles, audioBox);
  slot.dataset.layout = "grid";

  const local = el("video", { class: "media-local", muted: true, playsinline: true, autoplay: true });
  local.muted = true;
  const tileMap = new Map(); // tile key -> figure

  const setStatus = (key) => {
    status.textContent = t(key);
    slot.dataset.mediaState = key.split(".").pop();
    status.hidden = key === "media.status.connected";
  };

  function participantName(key) {
    const p = (ctx.participants || {})[key];
    return p ? p.short_name || p.name : key;
  }

  function fullscreen(node) {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (node && node.requestFullscreen) node.requestFullscreen().catch(() => {});
  }

  function switchView() {
    media.view = media.view === "speaker" ? "grid" : "speaker";
    render();
  }

  /** Who is on the stage: everyone present (not waiting, not removed, connected). */
  function people() {
    const state = ctx.state || { participants: {} };
    return Object.entries(state.participants)
      .filter(([, p]) => p.connected && !p.removed && !p.waiting && p.admitted !== false)
      .map(([key]) => key)
      .filter((key) => !ctx.sameRoom || ctx.sameRoom(key)); // breakout groups: one's own room
  }

  function tileFor(key, kind) {
    const id = `${kind}:${key}`;
    let tile = tileMap.get(id);
    if (tile) return tile;
    const name = el("span", { class: "tile-name" });
    const flags = el("span", { class: "tile-flags" });
    const tools = el("span", { class: "tile-tools" });
    tile = el("figure", { class: `media-tile tile-${kind}`, "data-tile": id, "data-participant": key },
      el("div", { class: "tile-avatar", "aria-hidden": "true" }),
      el("figcaption", { class: "tile-caption" }, flags, name), tools);
    tile._parts = { name, flags, tools };
    tileMap.set(id, tile);
    return tile;
  }

  function toolButton(cls, iconName, label, onclick) {
    return el("button", { type: "button", class: `tile-tool ${cls}`, title: label, "aria-label": label, onclick }, icon(iconName));
  }

  function render() {
    if (media.released) return;
    const state = ctx.state || { participants: {}, speaking: [], hands: [] };
    const me = ctx.me;
    const moderator = typeof ctx.isModerator === "function" && Boolean(ctx.isModerator());
    const speaking = new Set(state.speaking || []);
    const hands = handsHere(ctx, state); // my room's queue
    // mid -> who, for video slots that carry someone
    const cameraMid = {};
    const screens = [];
    for (const [mid, who] of Object.entries(media.slots)) {
      if (!who || media.kinds[mid] !== "video") continue;
      if (who.source === "screen") screens.push({ mid, who });
      else cameraMid[who.participant] = mid;
    }
    const keys = people();
    if (!keys.includes(me)) keys.unshift(me);
    const wanted = new Set();
    const ordered = [];
    for (const s of screens) {
      const tile = tileFor(s.who.participant, "screen");
      wanted.add(tile.dataset.tile);
      ordered.push(tile);
      attachVideo(tile, media.videos[s.mid]);
      tile._parts.name.textContent = t("room.ui.screen_of", { name: participantName(s.who.participant) });
      tile._parts.flags.replaceChildren(icon("screen"));
      const tools = [toolButton("tile-pin", "pin", t(media.pinned === tile.dataset.tile ? "room.ui.unpin" : "room.ui.pin_named", { name: tile._parts.name.textContent }), () => pin(tile.dataset.tile)),
        toolButton("tile-full", "fullscreen", t("room.ui.full_named", { name: tile._parts.name.textContent }), () => fullscreen(tile))];
      if (moderator) {
        tools.push(el("button", {
          type: "button", class: "tile-tool media-tile-action", title: t("room.ui.stop_screen_of", { name: participantName(s.who.participant) }),
          "aria-label": t("room.ui.stop_screen_of", { name: participantName(s.who.participant) }),
          onclick: () => ctx.request("media.screen_stop", { participant: s.who.participant }),
        }, icon("close")));
      }
      tile._parts.tools.replaceChildren(...tools);
      tile.dataset.quality = media.quality[s.mid] || "";
    }
    for (const key of keys) {
      const tile = tileFor(key, "person");
      wanted.add(tile.dataset.tile);
      ordered.push(tile);
      const mine = key === me;
      const name = participantName(key) || ctx.myName || "";
      const video = mine ? (media.tracks.camera ? local : null) : media.videos[cameraMid[key]];
      attachVideo(tile, video);
      tile.querySelector(".tile-avatar").textContent = initials(name);
      tile._parts.name.textContent = mine ? `${name} (${t("room.stage.you")})` : name;
      tile.classList.toggle("speaking", speaking.has(key));
      tile.classList.toggle("mine", mine);
      tile.classList.toggle("has-floor", state.floor === key);
      const flags = [];
      const micOff = mine ? !micIsOn() : Boolean(media.mics && !media.mics.includes(key));
      if (micOff) flags.push(el("span", { class: "tile-flag mic-off", title: t("room.ui.mic_off") }, icon("mic-off", t("room.ui.mic_off"))));
      if (hands.includes(key)) flags.push(el("span", { class: "tile-flag hand", title: t("room.hands.raised_n", { n: hands.indexOf(key) + 1 }) }, icon("hand", t("room.hands.raised_n", { n: hands.indexOf(key) + 1 }))));
      const quality = mine ? media.quality.self : media.quality[cameraMid[key]];
      if (quality) {
        flags.push(el("span", { class: `tile-flag quality q-${quality}`, title: t(`room.ui.quality.${quality}`) }, icon("signal", t(`room.ui.quality.${quality}`))));
      }
      tile._parts.flags.replaceChildren(...flags);
      const label = tile._parts.name.textContent;
      const tools = [
        toolButton("tile-pin", "pin", t(media.pinned === tile.dataset.tile ? "room.ui.unpin" : "room.ui.pin_named", { name: label }), () => pin(tile.dataset.tile)),
        toolButton("tile-full", "fullscreen", t("room.ui.full_named", { name: label }), () => fullscreen(tile)),
      ];
      if (moderator && !mine) {
        tools.push(el("button", {
          type: "button", class: "tile-tool media-tile-action", title: t("room.ui.mute_named", { name }), "aria-label": t("room.ui.mute_named", { name }),
          onclick: () => ctx.request("media.mute", { participant: key }),
        }, icon("mic-off")));
      }
      tile._parts.tools.replaceChildren(...tools);
      tile.dataset.quality = quality || "";
    }
    for (const [id, tile] of tileMap) {
      if (!wanted.has(id)) {
        tile.remove();
        tileMap.delete(id);
      }
    }
    if (media.pinned && !wanted.has(media.pinned)) media.pinned = null;
    // The large place: a pinned tile, else the shared screen, else (speaker view) who speaks.
    let focus = media.pinned ? tileMap.get(media.pinned) : null;
    if (!focus && screens.length) focus = tileMap.get(`screen:${screens[0].who.participant}`);
    if (!focus && media.view === "speaker" && keys.length > 1) {
      const others = keys.filter((k) => k !== me);
      const who = (state.floor && others.includes(state.floor) && state.floor) || others.find((k) => speaking.has(k)) || others[0];
      focus = tileMap.get(`person:${who}`);
    }
    for (const tile of ordered) tile.classList.toggle("focus", tile === focus);
    layoutStage(slot, { mainBox, strip, tiles }, ordered, focus);
    viewButton.title = t(media.view === "speaker" ? "room.ui.view_grid" : "room.ui.view_speaker");
    viewButton.setAttribute("aria-label", viewButton.title);
    viewButton.hidden = Boolean(screens.length || media.pinned) || keys.length < 2;
    // Moderator's media items in the room's moderator menu.
    const modSlot = ctx.moderatorSlot && ctx.moderatorSlot();
    if (modSlot) {
      if (moderator && !muteAllButton.isConnected) modSlot.replaceChildren(muteAllButton, lockButton);
      if (!moderator && muteAllButton.isConnected) modSlot.replaceChildren();
      lockButton.replaceChildren(icon("lock"), ` ${t(media.locked ? "media.mod.unlock" : "media.mod.lock")}`);
    }
    slot.dataset.moderator = String(moderator);
  }

  function attachVideo(tile, video) {
    const current = tile.querySelector("video");
    if (current === video) return;
    if (current) current.remove();
    tile.classList.toggle("has-video", Boolean(video));
    if (video) {
      tile.prepend(video);
      video.play().catch(() => {});
    }
  }

  function pin(id) {
    media.pinned = media.pinned === id ? null : id;
    render();
  }

  function onTrack(event) {
    const mid = event.transceiver.mid;
    const stream = new MediaStream([event.track]);
    media.kinds[mid] = event.track.kind;
    if (event.track.kind === "audio") {
      const audio = el("audio", { autoplay: true, "data-mid": mid });
      audio.srcObject = stream;
      audioBox.append(audio);
      media.audios[mid] = audio;
    } else {
      const video = el("video", { autoplay: true, playsinline: true, muted: true, "data-mid": mid });
      video.muted = true;
      video.srcObject = stream;
      media.videos[mid] = video;
      render();
    }
  }

  async function negotiate() {
    const pc = media.pc;
    if (!pc || media.released) return false;
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc);
    const sources = {};
    for (const source of SOURCES) {
      const tx = media.tx[source];
      if (tx && tx.mid && media.tracks[source]) sources[tx.mid] = source;
    }
    media.slotsSeen = false;
    const ack = await ctx.request("media.offer", { sdp: pc.localDescription.sdp, type: "offer", sources });
    if (!ack.ok) {
      await pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      return false;
    }
    if (pc !== media.pc || pc.signalingState === "closed") return false;
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    for (const tr of pc.getTransceivers()) if (tr.mid !== null) media.kinds[tr.mid] = tr.receiver.track.kind;
    // A media.slots pushed while the offer was answered is newer than the answer's map.
    if (!media.slotsSeen) {
      media.slots = ack.slots || {};
      if (Array.isArray(ack.mics)) media.mics = ack.mics;
    }
    media.locked = Boolean(ack.locked);
    render();
    return true;
  }

  // Serialise negotiations: a second change waits for the first.
  const queue = (fn) => (media.busy = media.busy.then(fn, fn).catch((err) => { console.error(err); setStatus("media.status.failed"); }));

  async function online() {
    const room = document.getElementById("room");
    for (let i = 0; i < 100 && room && room.dataset.connection !== "online"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function start() {
    if (media.released) return;
    await online();
    const cfg = await ctx.request("media.config", {});
    if (!cfg.ok) { setStatus("media.status.failed"); return; }
    media.config = cfg;
    media.locked = cfg.locked;
    media.muted = cfg.muted;
    const pc = new RTCPeerConnection({ iceServers: cfg.iceServers });
    media.pc = pc;
    pc.addEventListener("track", onTrack);
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== media.pc || media.released) return;
      const s = pc.connectionState;
      if (s === "connected") setStatus("media.status.connected");
      else if (s === "disconnected") setStatus("media.status.poor");
      else if (s === "failed") {
        setStatus("media.status.poor");
        scheduleRebuild();
      }
    });
    for (let i = 0; i < cfg.audio_slots; i++) pc.addTransceiver("audio", { direction: "recvonly" });
    for (let i = 0; i < cfg.video_slots; i++) pc.addTransceiver("video", { direction: "recvonly" });
    await negotiate();
  }

  // One rebuild for however many reasons arrive together (ICE failed here and the server
  // dropped the connection), a second later.
  function scheduleRebuild() {
    if (media.rebuildPending || media.released) return;
    media.rebuildPending = true;
    setTimeout(() => queue(async () => {
      media.rebuildPending = false;
      if (!media.released && media.pc) await rebuild();
    }), 1000);
  }

  /** The ICE username fragment of our connection: the server names it in media.closed. */
  function ufragOf(pc) {
    const m = pc && pc.localDescription && /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp);
    return m ? m[1] : null;
  }

  // ICE failed (network change) or the server dropped the connection: a new connection, the
  // same devices.
  async function rebuild() {
    if (media.released) return;
    const tracks = { ...media.tracks };
    // Its media.closed, when it comes, is not news: it may come while media.pc is still this
    // closed connection (start() awaits the server before making the new one).
    media.retired.add(ufragOf(media.pc));
    media.pc.close();
    audioBox.replaceChildren();
    Object.assign(media, { videos: {}, audios: {}, tx: {}, tracks: {}, slots: {}, kinds: {} });
    await start();
    for (const [source, tr] of Object.entries(tracks)) {
      if (tr.readyState === "live") await publish(source, tr);
    }
    updateButtons();
  }

  async function publish(source, tr) {
    if (media.released) { tr.stop(); return; }
    media.tracks[source] = tr;
    let tx = media.tx[source];
    if (tx) {
      await tx.sender.replaceTrack(tr);
      tx.direction = "sendonly";
    } else {
      tx = media.tx[source] = media.pc.addTransceiver(tr, { direction: "sendonly" });
    }
    if (source === "camera") { local.srcObject = new MediaStream([tr]); local.play().catch(() => {}); }
    tr.addEventListener("ended", () => queue(() => unpublish(source)));
    updateButtons();
    await negotiate();
  }

  async function unpublish(source) {
    const tr = media.tracks[source];
    const tx = media.tx[source];
    if (!tr) return;
    tr.stop();
    delete media.tracks[source];
    if (source === "camera") local.srcObject = null;
    updateButtons();
    if (!tx || media.released) return;
    await tx.sender.replaceTrack(null);
    tx.direction = "inactive";
    await negotiate();
  }

  async function capture(kind) {
    try {
      if (kind === "screen") return remember((await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0]);
      const id = kind === "mic" ? ctx.devices && ctx.devices.micId : ctx.devices && ctx.devices.cameraId;
      const constraint = id ? { deviceId: { ideal: id } } : true;
      const stream = await navigator.mediaDevices.getUserMedia(kind === "mic" ? { audio: constraint } : { video: constraint });
      return remember(kind === "mic" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0]);
    } catch (err) {
      ctx.toast(t(kind === "screen" ? "media.error.screen" : "media.error.device"));
      return null;
    }
  }

  const micIsOn = () => Boolean(media.tracks.mic && media.tracks.mic.enabled && !media.muted);

  function label(buttonEl, text, on) {
    buttonEl.setAttribute("aria-label", text);
    const key = buttonEl.getAttribute("aria-keyshortcuts");
    buttonEl.title = key ? `${text} (${key})` : text;
    const short = buttonEl === micButton ? "room.ui.mic_short" : buttonEl === camButton ? "room.ui.camera_short" : "room.ui.screen_short";
    buttonEl.querySelector(".cb-label").textContent = t(short);
    buttonEl.classList.toggle("on", on);
    buttonEl.classList.toggle("off", !on && buttonEl !== screenButton);
  }

  function updateButtons() {
    const micOn = micIsOn();
    label(micButton, t(micOn ? "media.mic.off" : "media.mic.on"), micOn);
    micButton.querySelector("svg").replaceWith(icon(micOn ? "mic" : "mic-off"));
    slot.dataset.mic = micOn ? "on" : media.muted ? "muted" : "off";
    const camOn = Boolean(media.tracks.camera);
    label(camButton, t(camOn ? "media.camera.off" : "media.camera.on"), camOn);
    camButton.querySelector("svg").replaceWith(icon(camOn ? "video" : "video-off"));
    const screenOn = Boolean(media.tracks.screen);
    label(screenButton, t(screenOn ? "media.screen.stop" : "media.screen.start"), screenOn);
    sharing.hidden = !screenOn;
    sharing.replaceChildren(icon("screen"), ` ${t("room.ui.you_share")} `,
      el("button", { type: "button", class: "small danger", onclick: () => toggleScreen() }, t("room.ui.stop_sharing")));
    render();
  }

  const toggleMic = () => queue(async () => {
    if (media.released) return;
    if (micIsOn()) { await unpublish("mic"); return; } // off = the microphone is closed
    if (media.muted) {
      const ack = await ctx.request("media.unmute", {});
      if (!ack.ok) return;
      media.muted = false;
    }
    const tr = media.tracks.mic || (await capture("mic"));
    if (tr && !media.tracks.mic) await publish("mic", tr);
    else if (tr) tr.enabled = true;
    updateButtons();
  });
  const toggleCamera = () => queue(async () => {
    if (media.released) return;
    if (media.tracks.camera) await unpublish("camera");
    else {
      const tr = await capture("camera");
      if (tr) await publish("camera", tr);
    }
    updateButtons();
  });
  const toggleScreen = () => queue(async () => {
    if (media.released) return;
    if (media.tracks.screen) await unpublish("screen");
    else {
      const tr = await capture("screen");
      if (tr) await publish("screen", tr);
    }
    updateButtons();
  });

  muteAllButton.addEventListener("click", () => { if (ctx.isModerator()) ctx.request("media.mute_all", {}); });
  lockButton.addEventListener("click", async () => {
    const ack = await ctx.request(media.locked ? "media.unlock" : "media.lock", {});
    if (ack.ok) { media.locked = !media.locked; render(); }
  });

  // Keyboard: M, V, S (not while typing).
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof Element && e.target.closest("input, textarea, select, [contenteditable], dialog[open]")) return;
    const b = [micButton, camButton, screenButton].find((x) => x.dataset.key === e.code);
    if (b && !media.released) { e.preventDefault(); b.click(); }
  });

  ctx.socket.on("media.slots", (msg) => {
    media.slotsSeen = true;
    media.slots = (msg && msg.slots) || {};
    if (msg && Array.isArray(msg.mics)) media.mics = msg.mics;
    render();
  });
  ctx.socket.on("media.muted", (msg) => {
    if (msg && msg.all && msg.except === ctx.me) return;
    media.muted = true;
    media.locked = Boolean(msg && msg.locked);
    if (media.tracks.mic) queue(() => unpublish("mic"));
    updateButtons();
    ctx.toast(t(media.locked ? "media.muted.locked" : "media.muted.by_moderator"), "info");
  });
  ctx.socket.on("media.unlocked", () => { media.locked = false; render(); ctx.toast(t("media.unlocked"), "info"); });
  ctx.socket.on("media.screen_stopped", () => queue(() => unpublish("screen")));
  // The server closed our connection. Left, removed, the end, another tab of ours, a flood:
  // nothing to do. Otherwise (ICE never connected in time, DTLS failed, the meeting's media
  // moved to another node...) a new connection now, instead of waiting for ICE to notice.
  const FINAL = new Set(["left", "removed", "meeting_ended", "replaced", "flood"]);
  ctx.socket.on("media.closed", (msg) => {
    if (media.released) return;
    const reason = msg && msg.reason;
    if (msg && msg.ufrag && (media.retired.has(msg.ufrag) || msg.ufrag !== ufragOf(media.pc))) return; // an older connection
    setStatus("media.status.poor");
    if (!FINAL.has(reason) && media.pc) scheduleRebuild();
  });
  // Back after a Socket.IO reconnect: if the server dropped our media meanwhile (we were away
  // longer than its presence checks), rebuild now instead of waiting for ICE to fail.
  ctx.socket.io.on("reconnect", () => {
    if (!media.pc || media.released) return;
    queue(async () => {
      await online();
      const cfg = await ctx.request("media.config", {});
      if (cfg.ok && !cfg.peer && media.pc) await rebuild();
    });
  });
  ctx.subscribe(() => render());
  new ResizeObserver(() => render()).observe(slot);

  /** Leave, removal, the end: every track stopped (the browser's camera light goes off). */
  function release() {
    if (media.released) return;
    media.released = true;
    stopTracks(Object.values(media.tracks));
    stopTracks([ctx.devices && ctx.devices.mic, ctx.devices && ctx.devices.camera]);
    media.tracks = {};
    local.srcObject = null;
    if (media.pc) media.pc.close(); // DTLS close: the server releases the peer at once
    for (const b of [micButton, camButton, screenButton]) b.disabled = true;
    status.hidden = true;
    slot.dataset.mediaState = "released";
    slot.dataset.mic = "off";
  }
  /** Back in the room after a readmission: the stage again, devices off until turned on. */
  function resume() {
    if (!media.released || (ctx.state && ctx.state.meeting.status === "ended")) return;
    media.released = false;
    for (const b of [micButton, camButton, screenButton]) b.disabled = false;
    Object.assign(media, { videos: {}, audios: {}, tx: {}, tracks: {}, slots: {}, kinds: {} });
    audioBox.replaceChildren();
    queue(start).then(updateButtons);
  }
  if (ctx.onRelease) ctx.onRelease(release);
  if (ctx.onResume) ctx.onResume(resume);
  window.addEventListener("pagehide", release);

  // Connection quality from the receive statistics (loss over the last 5 s), per slot.
  const last = {};
  setInterval(async () => {
    const pc = media.pc;
    if (!pc || media.released || pc.connectionState !== "connected") return;
    let worst = "good";
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.mid !== undefined) {
        const prev = last[r.mid] || { lost: 0, received: 0 };
        const lost = (r.packetsLost || 0) - prev.lost;
        const total = lost + (r.packetsReceived || 0) - prev.received;
        last[r.mid] = { lost: r.packetsLost || 0, received: r.packetsReceived || 0 };
        if (total > 0) {
          const q = lost / total > 0.08 ? "poor" : lost / total > 0.02 ? "fair" : "good";
          media.quality[r.mid] = q;
          if (q === "poor" || (q === "fair" && worst === "good")) worst = q;
        }
      }
      if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime !== undefined) {
        media.quality.self = r.currentRoundTripTime > 0.6 ? "poor" : r.currentRoundTripTime > 0.25 ? "fair" : "good";
      }
    });
    setStatus(worst === "poor" ? "media.status.poor" : "media.status.connected");
    render();
  }, 5000);

  updateButtons();
  await queue(start);
  // The devices chosen before entering go live at once.
  // (Opened afresh on the chosen device, so that the room owns the tracks it sends; the
  // check's tracks are stopped.)
  for (const kind of ["mic", "camera"]) {
    const checked = ctx.devices && ctx.devices[kind];
    if (!checked) continue;
    stopTracks([checked]);
    const tr = await capture(kind);
    if (tr) await queue(() => publish(kind, tr));
  }
  updateButtons();
  return media;
}

export default mountMedia;
