// The recording page: the video (screen share or camera) follows the mixed audio, which is the
// clock; a click on a transcript line seeks there. The video file starts `data-offset` seconds
// after the audio.
const audio = document.getElementById("recording-audio");
const video = document.getElementById("recording-video");
const offset = video ? Number(video.dataset.offset || 0) : 0;
const DRIFT = 0.3; // seconds of disagreement tolerated before the video is moved

function follow() {
  if (!video) return;
  const t = audio ? audio.currentTime - offset : video.currentTime;
  const inside = t >= 0 && (!Number.isFinite(video.duration) || t <= video.duration);
  video.style.visibility = inside ? "visible" : "hidden";
  if (!inside) {
    if (!video.paused) video.pause();
    return;
  }
  if (Math.abs(video.currentTime - t) > DRIFT) video.currentTime = t;
  if (audio && !audio.paused && video.paused) video.play().catch(() => {});
  if (audio && audio.paused && !video.paused) video.pause();
}

if (audio) {
  for (const name of ["play", "pause", "seeked", "timeupdate", "ratechange"]) {
    audio.addEventListener(name, () => {
      if (video) video.playbackRate = audio.playbackRate;
      follow();
    });
  }
}

export function seek(seconds) {
  const target = audio || video;
  if (!target) return;
  target.currentTime = Math.max(0, seconds - (audio ? 0 : offset));
  target.play().catch(() => {});
  follow();
}

for (const button of document.querySelectorAll("[data-seek]")) {
  button.addEventListener("click", () => seek(Number(button.dataset.seek)));
}
