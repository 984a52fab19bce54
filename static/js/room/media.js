// The room's audio, video and screen sharing: one RTCPeerConnection to the server's SFU.
// The page always offers (first with receive slots only, again whenever a track is added or
// removed); the server answers and tells which slot carries whom ("media.slots").
// Works without camera or microphone: a teacher can still watch, listen, chat and vote.

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

export async function mountMedia(slot, ctx) {
  const { t } = ctx;
  if (!document.querySelector('link[data-media-css]')) {
    document.head.append(el("link", { rel: "stylesheet", href: "/static/css/media.css", "data-media-css": true }));
  }
  const media = {
    pc: null, config: null, tx: {}, tracks: {}, slots: {}, tiles: {}, audios: {},
    muted: false, locked: false, busy: Promise.resolve(), view: "grid",
  };
  const tileActions = {}; // mid -> the moderator's mute / stop-screen button of that tile
  window.smoMedia = media; // for diagnostics and the browser tests (getStats)

  const status = el("span", { class: "media-status", role: "status" }, t("media.status.connecting"));
  const micButton = el("button", { type: "button", class: "button media-mic", "aria-pressed": "false" }, t("media.mic.on"));
  const camButton = el("button", { type: "button", class: "button media-camera", "aria-pressed": "false" }, t("media.camera.on"));
  const screenButton = el("button", { type: "button", class: "button media-screen", "aria-pressed": "false" }, t("media.screen.start"));
  const viewButton = el("button", { type: "button", class: "button media-view" }, t("media.view.speaker"));
  const micSelect = el("select", { class: "media-device", "aria-label": t("media.device.mic") });
  const camSelect = el("select", { class: "media-device", "aria-label": t("media.device.camera") });
  const muteAllButton = el("button", { type: "button", class: "button button-secondary media-mute-all" }, t("media.mod.mute_all"));
  const lockButton = el("button", { type: "button", class: "button button-secondary media-lock" }, t("media.mod.lock"));
  // Moderator controls: only in the DOM while this page's participant moderates (the CSS gives
  // the bar display:flex, so the hidden attribute alone would not hide it).
  const modBar = el("div", { class: "media-moderation" }, muteAllButton, lockButton);
  const grid = el("div", { class: "media-grid view-grid", "aria-live": "off" });
  const local = el("video", { class: "media-local", muted: true, playsinline: true, autoplay: true });
  local.muted = true;
  const audioBox = el("div", { hidden: true });
  slot.replaceChildren(
    el("div", { class: "media-toolbar" }, micButton, camButton, screenButton, viewButton, micSelect, camSelect, status),
    grid, el("div", { class: "media-local-box" }, local), audioBox,
  );

  const toast = (text) => { status.textContent = text; };
  const setStatus = (key) => { status.textContent = t(key); slot.dataset.mediaState = key.split(".").pop(); };

  async function listDevices() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      for (const [select, kind] of [[micSelect, "audioinput"], [camSelect, "videoinput"]]) {
        const current = select.value;
        select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) =>
          el("option", { value: d.deviceId }, d.label || `${t(kind === "audioinput" ? "media.device.mic" : "media.device.camera")} ${i + 1}`)));
        if (current) select.value = current;
      }
    } catch { /* no device list: the buttons still work with the defaults */ }
  }

  function participantName(key) {
    const p = (ctx.participants || {})[key];
    return p ? p.short_name || p.name : key;
  }

  function renderTiles() {
    const moderator = typeof ctx.isModerator === "function" && Boolean(ctx.isModerator());
    if (moderator && !modBar.isConnected) grid.before(modBar);
    else if (!moderator && modBar.isConnected) modBar.remove();
    slot.dataset.moderator = String(moderator);
    lockButton.textContent = t(media.locked ? "media.mod.unlock" : "media.mod.lock");
    const speaking = new Set((ctx.state && ctx.state.speaking) || []);
    for (const [mid, tile] of Object.entries(media.tiles)) {
      const who = media.slots[mid];
      tile.hidden = !who;
      tile.dataset.participant = who ? who.participant : "";
      tile.classList.toggle("speaking", Boolean(who && speaking.has(who.participant)));
      tile.classList.toggle("screen", Boolean(who && who.source === "screen"));
      tile.querySelector(".media-name").textContent = who ? participantName(who.participant) : "";
      const action = tileActions[mid];
      const show = Boolean(moderator && who);
      if (show && !action.isConnected) tile.append(action);
      else if (!show && action.isConnected) action.remove();
      action.textContent = who && who.source === "screen" ? t("media.mod.stop_screen") : t("media.mod.mute");
    }
    // Speaker view: the screen share, else the active speaker, else the first tile is large.
    const visible = Object.values(media.tiles).filter((x) => !x.hidden);
    const main = visible.find((x) => x.classList.contains("screen")) || visible.find((x) => x.classList.contains("speaking")) || visible[0];
    for (const x of visible) x.classList.toggle("main", media.view === "speaker" && x === main);
  }

  function onTrack(event) {
    const mid = event.transceiver.mid;
    const stream = new MediaStream([event.track]);
    if (event.track.kind === "audio") {
      const audio = el("audio", { autoplay: true, "data-mid": mid });
      audio.srcObject = stream;
      audioBox.append(audio);
      media.audios[mid] = audio;
    } else {
      const video = el("video", { autoplay: true, playsinline: true, muted: true });
      video.muted = true;
      video.srcObject = stream;
      const action = el("button", { type: "button", class: "media-tile-action" });
      action.addEventListener("click", () => {
        const who = media.slots[mid];
        if (!who || !ctx.isModerator()) return;
        if (who.source === "screen") ctx.request("media.screen_stop", { participant: who.participant });
        else ctx.request("media.mute", { participant: who.participant });
      });
      const tile = el("figure", { class: "media-tile", "data-mid": mid, hidden: true }, video,
        el("figcaption", { class: "media-name" }));
      grid.append(tile);
      media.tiles[mid] = tile;
      tileActions[mid] = action; // attached by renderTiles() for moderators only
      renderTiles();
    }
  }

  async function negotiate() {
    const pc = media.pc;
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc);
    const sources = {};
    for (const source of SOURCES) {
      const tx = media.tx[source];
      if (tx && tx.mid && media.tracks[source]) sources[tx.mid] = source;
    }
    const ack = await ctx.request("media.offer", { sdp: pc.localDescription.sdp, type: "offer", sources });
    if (!ack.ok) {
      await pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      return false;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    media.slots = ack.slots || {};
    media.locked = Boolean(ack.locked);
    renderTiles();
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
      const s = pc.connectionState;
      if (s === "connected") setStatus("media.status.connected");
      else if (s === "disconnected") setStatus("media.status.poor");
      else if (s === "failed" && pc === media.pc) {
        setStatus("media.status.poor");
        setTimeout(() => queue(rebuild), 1000);
      }
    });
    for (let i = 0; i < cfg.audio_slots; i++) pc.addTransceiver("audio", { direction: "recvonly" });
    for (let i = 0; i < cfg.video_slots; i++) pc.addTransceiver("video", { direction: "recvonly" });
    await negotiate();
  }

  // ICE failed (network change): a new connection, the same devices.
  async function rebuild() {
    const tracks = { ...media.tracks };
    media.pc.close();
    grid.replaceChildren();
    audioBox.replaceChildren();
    Object.assign(media, { tiles: {}, audios: {}, tx: {}, tracks: {}, slots: {} });
    for (const mid of Object.keys(tileActions)) delete tileActions[mid];
    await start();
    for (const [source, track] of Object.entries(tracks)) {
      if (track.readyState === "live") await publish(source, track);
    }
    updateButtons();
  }

  async function publish(source, track) {
    const kind = source === "mic" ? "audio" : "video";
    media.tracks[source] = track;
    let tx = media.tx[source];
    if (tx) {
      await tx.sender.replaceTrack(track);
      tx.direction = "sendonly";
    } else {
      tx = media.tx[source] = media.pc.addTransceiver(track, { direction: "sendonly" });
    }
    if (kind === "video" && source === "camera") local.srcObject = new MediaStream([track]);
    track.addEventListener("ended", () => queue(() => unpublish(source)));
    await negotiate();
  }

  async function unpublish(source) {
    const track = media.tracks[source];
    const tx = media.tx[source];
    if (!track || !tx) return;
    track.stop();
    delete media.tracks[source];
    await tx.sender.replaceTrack(null);
    tx.direction = "inactive";
    if (source === "camera") local.srcObject = null;
    updateButtons();
    await negotiate();
  }

  async function capture(kind) {
    try {
      if (kind === "screen") return (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0];
      const select = kind === "mic" ? micSelect : camSelect;
      const constraint = select.value ? { deviceId: { exact: select.value } } : true;
      const stream = await navigator.mediaDevices.getUserMedia(kind === "mic" ? { audio: constraint } : { video: constraint });
      listDevices();
      return kind === "mic" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    } catch (err) {
      toast(t(kind === "screen" ? "media.error.screen" : "media.error.device"));
      return null;
    }
  }

  function updateButtons() {
    const mic = media.tracks.mic;
    const micOn = Boolean(mic && mic.enabled && !media.muted);
    micButton.textContent = t(micOn ? "media.mic.off" : "media.mic.on");
    micButton.setAttribute("aria-pressed", String(micOn));
    slot.dataset.mic = micOn ? "on" : media.muted ? "muted" : "off";
    camButton.textContent = t(media.tracks.camera ? "media.camera.off" : "media.camera.on");
    camButton.setAttribute("aria-pressed", String(Boolean(media.tracks.camera)));
    screenButton.textContent = t(media.tracks.screen ? "media.screen.stop" : "media.screen.start");
    screenButton.setAttribute("aria-pressed", String(Boolean(media.tracks.screen)));
  }

  micButton.addEventListener("click", () => queue(async () => {
    const mic = media.tracks.mic;
    if (mic && mic.enabled && !media.muted) { mic.enabled = false; updateButtons(); return; }
    if (media.muted) {
      const ack = await ctx.request("media.unmute", {});
      if (!ack.ok) return;
      media.muted = false;
    }
    if (mic) mic.enabled = true;
    else {
      const track = await capture("mic");
      if (track) await publish("mic", track);
    }
    updateButtons();
  }));
  camButton.addEventListener("click", () => queue(async () => {
    if (media.tracks.camera) await unpublish("camera");
    else {
      const track = await capture("camera");
      if (track) await publish("camera", track);
    }
    updateButtons();
  }));
  screenButton.addEventListener("click", () => queue(async () => {
    if (media.tracks.screen) await unpublish("screen");
    else {
      const track = await capture("screen");
      if (track) await publish("screen", track);
    }
    updateButtons();
  }));
  muteAllButton.addEventListener("click", () => { if (ctx.isModerator()) ctx.request("media.mute_all", {}); });
  lockButton.addEventListener("click", async () => {
    const ack = await ctx.request(media.locked ? "media.unlock" : "media.lock", {});
    if (ack.ok) { media.locked = !media.locked; renderTiles(); }
  });
  viewButton.addEventListener("click", () => {
    media.view = media.view === "grid" ? "speaker" : "grid";
    grid.className = `media-grid view-${media.view}`;
    viewButton.textContent = t(media.view === "grid" ? "media.view.speaker" : "media.view.grid");
    renderTiles();
  });

  ctx.socket.on("media.slots", (msg) => { media.slots = (msg && msg.slots) || {}; renderTiles(); });
  ctx.socket.on("media.muted", (msg) => {
    if (msg && msg.all && msg.except === ctx.me) return;
    media.muted = true;
    media.locked = Boolean(msg && msg.locked);
    if (media.tracks.mic) media.tracks.mic.enabled = false;
    updateButtons();
    toast(t(media.locked ? "media.muted.locked" : "media.muted.by_moderator"));
  });
  ctx.socket.on("media.unlocked", () => { media.locked = false; renderTiles(); toast(t("media.unlocked")); });
  ctx.socket.on("media.screen_stopped", () => queue(() => unpublish("screen")));
  ctx.socket.on("media.closed", () => setStatus("media.status.poor"));
  // Back after a Socket.IO reconnect: if the server dropped our media meanwhile (we were away
  // longer than its presence checks), rebuild now instead of waiting for ICE to fail.
  ctx.socket.on("connect", () => {
    if (!media.pc) return;
    queue(async () => {
      await online();
      const cfg = await ctx.request("media.config", {});
      if (cfg.ok && !cfg.peer && media.pc) await rebuild();
    });
  });
  ctx.subscribe(() => renderTiles());
  window.addEventListener("pagehide", () => {
    if (media.pc) media.pc.close(); // DTLS close: the server releases the peer at once
  });

  // Connection-quality hint from the receive statistics (loss over the last 5 s).
  let lastLost = 0;
  let lastReceived = 0;
  setInterval(async () => {
    const pc = media.pc;
    if (!pc || pc.connectionState !== "connected") return;
    let lost = 0;
    let received = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp") { lost += r.packetsLost || 0; received += r.packetsReceived || 0; }
    });
    const dLost = lost - lastLost;
    const total = dLost + (received - lastReceived);
    [lastLost, lastReceived] = [lost, received];
    if (total > 0) setStatus(dLost / total > 0.05 ? "media.status.poor" : "media.status.connected");
  }, 5000);

  renderTiles();
  await listDevices();
  updateButtons();
  await queue(start);
  const params = new URLSearchParams(location.search);
  if (params.get("media") === "auto") { // used by the browser test: publish both devices at once
    for (const kind of ["mic", "camera"]) {
      const track = await capture(kind);
      if (track) await queue(() => publish(kind, track));
    }
    updateButtons();
  }
  return media;
}

export default mountMedia;
