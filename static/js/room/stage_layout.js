// Where each tile goes on the stage. With a focus (a shared screen or a pinned tile): the
// focus large, the others in a strip beside it (a wide stage) or under it (a tall one).
// Without: a grid whose column count gives the tiles (16:9) the largest size that fits.

const GAP = 8;

function place(container, tiles) {
  tiles.forEach((tile, i) => {
    if (tile.parentNode !== container || container.children[i] !== tile) {
      container.insertBefore(tile, container.children[i] || null);
      // A media element taken out of the document pauses: play it again where it landed.
      const video = tile.querySelector("video");
      if (video) video.play().catch(() => {});
    }
  });
}

export function bestColumns(n, width, height) {
  let best = { cols: 1, size: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((width - GAP * (cols - 1)) / cols, ((height - GAP * (rows - 1)) / rows) * (16 / 9));
    if (w > best.size) best = { cols, size: w };
  }
  return best;
}

export function layoutStage(stage, { mainBox, strip, tiles }, ordered, focus) {
  const width = stage.clientWidth;
  const height = stage.clientHeight;
  if (focus) {
    const others = ordered.filter((t) => t !== focus);
    const wide = width / Math.max(1, height) > 1.25;
    stage.dataset.layout = "focus";
    stage.dataset.strip = others.length === 0 ? "none" : wide ? "side" : "under";
    place(mainBox, [focus]);
    place(strip, others);
    return;
  }
  stage.dataset.layout = "grid";
  stage.dataset.strip = "none";
  place(tiles, ordered);
  // The grid box's own padding (8px each side, 4px on a phone) is not room for tiles.
  const pad = 2 * (parseFloat(getComputedStyle(tiles).paddingLeft) || 0);
  const { cols, size } = bestColumns(Math.max(1, ordered.length), width - pad - 1, height - pad - 1);
  tiles.style.setProperty("--cols", String(cols));
  tiles.style.setProperty("--tile-w", `${Math.max(100, Math.floor(size))}px`);
}
