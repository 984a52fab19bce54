// Before entering: the camera preview, the microphone's level, the choice of devices (by
// their names), entering with or without them, and what the browser refused and how to
// allow it. The choice is remembered in localStorage. Resolves with the live tracks the
// person chose to enter with ({mic, camera}, each a MediaStreamTrack or null); every other
// track it opened is stopped.

import { h } from "./dom.js";
import { icon } from "./icons.js";

const STORE_KEY = "smo.room.devices";

/** Every camera/microphone/screen track the room opened (the browser tests check they end). */
export const openedTracks = [];
window.smoTracks = openedTracks;

export function track(t) {
  if (t) openedTracks.push(t);
  return t;
}

export function stopTracks(tracks) {
  for (const t of tracks) if (t && t.readyState !== "ended") t.stop();
}

export function loadChoice() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
    return {
      camera: saved.camera !== false,
      mic: saved.mic !== false,
      cameraId: typeof saved.cameraId === "string" ? saved.cameraId : "",
      micId: typeof saved.micId === "string" ? saved.micId : "",
    };
  } catch {
    return { camera: true, mic: true, cameraId: "", micId: "" };
  }
}

export function saveChoice(choice) {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(choice));
  } catch { /* private mode: nothing remembered, nothing broken */ }
}

// The browser (or the person) refused access, as opposed to a missing or busy device.
const refused = (err) => Boolean(err) && (err.name === "NotAllowedError" || err.name === "SecurityError");

/** What went wrong, in words a teacher can act on. */
export function problemText(t, kind, err) {
  const name = err && err.name;
  const what = t(`room.prejoin.device.${kind}`);
  if (!navigator.mediaDevices) return t("room.prejoin.problem.insecure");
  if (refused(err)) return t("room.prejoin.problem.denied", { what });
  if (name === "NotFoundError" || name === "OverconstrainedError") return t("room.prejoin.problem.missing", { what });
  if (name === "NotReadableError" || name === "AbortError") return t("room.prejoin.problem.busy", { what });
  return t("room.prejoin.problem.other", { what });
}

export function runPrejoin(root, { t, title }) {
  const box = root.querySelector("#prejoin");
  const choice = loadChoice();
  const state = { camera: null, mic: null, audio: null, raf: 0, problems: {}, refused: {}, busy: new Set(), done: false, starting: false };
  // Opening a device takes a moment: entering waits for what is being opened, so the choice
  // made on screen is the one that enters, and nothing opened late is left on.
  const pending = (fn) => (...args) => {
    const p = fn(...args).finally(() => state.busy.delete(p));
    state.busy.add(p);
    return p;
  };

  const newVideo = () => {
    const el = h("video", { class: "prejoin-video", id: "prejoin-video", muted: true, playsinline: true, autoplay: true, "aria-label": t("room.prejoin.preview") });
    el.muted = true;
    return el;
  };
  let video = newVideo();
  const videoOff = h("p", { class: "prejoin-video-off" }, icon("video-off"), h("span", {}, t("room.prejoin.camera_off")));
  const camSelect = h("select", { id: "prejoin-camera" });
  const micSelect = h("select", { id: "prejoin-mic" });
  const camOn = h("input", { type: "checkbox", id: "prejoin-camera-on", checked: choice.camera });
  const micOn = h("input", { type: "checkbox", id: "prejoin-mic-on", checked: choice.mic });
  const level = h("meter", { id: "prejoin-level", class: "prejoin-level", min: 0, max: 1, low: 0.05, high: 0.8, optimum: 0.5, value: 0, "aria-label": t("room.prejoin.level") });
  const levelNote = h("p", { class: "muted small-text prejoin-level-note", id: "prejoin-level-note" }, t("room.prejoin.level_hint"));
  const problem = h("div", { class: "prejoin-problem", id: "prejoin-problem", role: "alert", hidden: true });
  const join = h("button", { type: "button", class: "button big", id: "prejoin-join" }, t("room.prejoin.join"));
  const bare = h("button", { type: "button", class: "secondary", id: "prejoin-bare" }, t("room.prejoin.join_bare"));

  const preview = h("div", { class: "prejoin-preview" }, video, videoOff);
  box.replaceChildren(h("div", { class: "prejoin-card", role: "dialog", "aria-modal": "true", "aria-labelledby": "prejoin-h" },
    h("h2", { id: "prejoin-h" }, t("room.prejoin.heading")),
    h("p", { class: "muted prejoin-title" }, title),
    h("div", { class: "prejoin-grid" },
      preview,
      h("div", { class: "prejoin-controls" },
        h("label", { class: "prejoin-field", for: "prejoin-camera" }, icon("video"), h("span", {}, t("room.prejoin.camera"))),
        camSelect,
        h("label", { class: "prejoin-switch" }, camOn, h("span", {}, t("room.prejoin.with_camera"))),
        h("label", { class: "prejoin-field", for: "prejoin-mic" }, icon("mic"), h("span", {}, t("room.prejoin.mic"))),
        micSelect,
        level, levelNote,
        h("label", { class: "prejoin-switch" }, micOn, h("span", {}, t("room.prejoin.with_mic"))),
        problem)),
    h("div", { class: "prejoin-actions" }, join, bare)));
  box.hidden = false;
  root.dataset.prejoin = "open";

  function showProblems() {
    const lines = Object.values(state.problems).filter(Boolean);
    problem.hidden = lines.length === 0;
    // How to allow access: only when the browser refused it (not for a camera without a picture).
    const how = lines.length && Object.values(state.refused).some(Boolean)
      ? [h("p", { class: "muted small-text" }, t("room.prejoin.problem.how"))] : [];
    problem.replaceChildren(...lines.map((line) => h("p", {}, line)), ...how);
    // On a phone the box can be below the fold of the card: bring it into view.
    if (lines.length && problem.scrollIntoView) problem.scrollIntoView({ block: "nearest" });
  }

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const all = await navigator.mediaDevices.enumerateDevices();
    for (const [select, kind, saved, current] of [
      [camSelect, "videoinput", choice.cameraId, state.camera],
      [micSelect, "audioinput", choice.micId, state.mic],
    ]) {
      const list = all.filter((d) => d.kind === kind && d.deviceId);
      const noun = t(kind === "videoinput" ? "room.prejoin.device.camera" : "room.prejoin.device.mic");
      select.replaceChildren(...(list.length
        ? list.map((d, i) => h("option", { value: d.deviceId }, humanName(d.label, noun, i)))
        : [h("option", { value: "" }, t("room.prejoin.none_found"))]));
      const live = current && current.getSettings ? current.getSettings().deviceId : "";
      const want = live || saved;
      if (want && list.some((d) => d.deviceId === want)) select.value = want;
      select.disabled = list.length === 0;
    }
  }

  function humanName(label, noun, i) {
    if (!label) return `${noun} ${i + 1}`;
    // "Default - Built-in Microphone" / "По умолчанию - ...": the device's own name is enough.
    return label.replace(/^(Default|По умолчанию|Communications)\s*-\s*/i, "").replace(/\s*\([0-9a-f]{4}:[0-9a-f]{4}\)$/i, "");
  }

  // A camera can open and yet show no picture (a driver waking up, a device another program
  // just let go of, a picture element that never started): after a few seconds without a frame
  // the camera is opened again into a new picture element, as a person would untick and tick
  // it; after the last try the check says so, and entering still works.
  const NO_PICTURE_MS = 4000;
  const CAMERA_TRIES = 3;
  function watchPicture(opened, attempt) {
    setTimeout(() => {
      if (state.done || state.camera !== opened || video.videoWidth > 0) return;
      if (attempt + 1 >= CAMERA_TRIES) {
        state.problems.camera = t("room.prejoin.problem.no_picture");
        showProblems();
        return;
      }
      console.warn(`prejoin: the camera sent no picture, opening it again (try ${attempt + 2})`);
      const fresh = newVideo();
      video.replaceWith(fresh);
      video = fresh;
      openCamera(attempt + 1);
    }, NO_PICTURE_MS);
  }

  const openCamera = pending(async (attempt = 0) => {
    stopTracks([state.camera]);
    state.camera = null;
    video.srcObject = null;
    preview.classList.toggle("off", !camOn.checked);
    if (!camOn.checked && state.problems.camera && !state.refused.camera) {
      state.problems.camera = null; // the person chose no camera: a device problem is moot
      showProblems();
    }
    if (!camOn.checked || (state.done && !state.starting)) return;
    try {
      const id = camSelect.value || choice.cameraId;
      const stream = await navigator.mediaDevices.getUserMedia({ video: id ? { deviceId: { ideal: id } } : true });
      state.camera = track(stream.getVideoTracks()[0]);
      video.srcObject = new MediaStream([state.camera]);
      video.play().catch(() => {});
      watchPicture(state.camera, attempt);
      state.problems.camera = null;
      state.refused.camera = false;
    } catch (err) {
      state.problems.camera = problemText(t, "camera", err);
      state.refused.camera = refused(err);
      camOn.checked = false;
      preview.classList.add("off");
    }
    showProblems();
  });

  const openMic = pending(async () => {
    stopTracks([state.mic]);
    state.mic = null;
    cancelAnimationFrame(state.raf);
    if (state.audio) state.audio.close().catch(() => {});
    state.audio = null;
    level.value = 0;
    if (!micOn.checked || (state.done && !state.starting)) return;
    try {
      const id = micSelect.value || choice.micId;
      const stream = await navigator.mediaDevices.getUserMedia({ audio: id ? { deviceId: { ideal: id } } : true });
      state.mic = track(stream.getAudioTracks()[0]);
      state.problems.mic = null;
      state.refused.mic = false;
      meter(state.mic);
    } catch (err) {
      state.problems.mic = problemText(t, "mic", err);
      state.refused.mic = refused(err);
      micOn.checked = false;
    }
    showProblems();
  });

  // The level meter: the loudness of the last few milliseconds, from an analyser node.
  function meter(mic) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const audio = new Ctx();
    state.audio = audio;
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(new MediaStream([mic])).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    let shown = 0;
    const step = () => {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const rms = Math.sqrt(sum / data.length);
      const value = Math.min(1, rms * 4);
      shown = value > shown ? value : shown * 0.9 + value * 0.1; // fast attack, slow decay
      level.value = shown;
      state.raf = requestAnimationFrame(step);
    };
    audio.resume().catch(() => {});
    step();
  }

  camOn.addEventListener("change", () => openCamera().then(listDevices));
  micOn.addEventListener("change", () => openMic().then(listDevices));
  camSelect.addEventListener("change", () => { camOn.checked = true; openCamera(); });
  micSelect.addEventListener("change", () => { micOn.checked = true; openMic(); });

  return new Promise((resolve) => {
    const finish = async (withDevices) => {
      if (state.done) return;
      state.done = true;
      join.disabled = true;
      bare.disabled = true;
      while (state.busy.size) await Promise.allSettled([...state.busy]);
      cancelAnimationFrame(state.raf);
      if (state.audio) state.audio.close().catch(() => {});
      const camera = withDevices && camOn.checked ? state.camera : null;
      const mic = withDevices && micOn.checked ? state.mic : null;
      stopTracks([state.camera, state.mic].filter((x) => x && x !== camera && x !== mic));
      saveChoice({
        camera: withDevices && camOn.checked, mic: withDevices && micOn.checked,
        cameraId: camSelect.value || choice.cameraId, micId: micSelect.value || choice.micId,
      });
      video.srcObject = null;
      box.hidden = true;
      box.replaceChildren();
      root.dataset.prejoin = "done";
      resolve({ camera, mic, cameraId: camSelect.value, micId: micSelect.value });
    };
    join.addEventListener("click", () => finish(true));
    bare.addEventListener("click", () => finish(false));
    join.focus();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      state.problems.camera = t("room.prejoin.problem.insecure");
      camOn.checked = false;
      micOn.checked = false;
      camOn.disabled = true;
      micOn.disabled = true;
      showProblems();
      return;
    }
    // List, open, list again (labels are only readable once a device is open). A quick click
    // on «Войти» waits for this first opening, so the devices ticked on screen are the ones
    // that enter.
    state.starting = true;
    pending(async () => {
      try {
        await listDevices();
        await Promise.all([openCamera(), openMic()]);
      } finally {
        state.starting = false;
      }
      await listDevices();
    })().catch((err) => console.error(err));
  });
}
