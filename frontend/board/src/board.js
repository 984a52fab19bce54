// The one entry point of static/vendor/board/board.js: what the board panel
// (static/js/room/board.js) needs — Excalidraw with its React. The board's Yjs document and the
// sync messages come from static/vendor/editor/editor.js: one Yjs instance in the page.
import "@excalidraw/excalidraw/index.css";
export { default as React } from "react";
export { createRoot } from "react-dom/client";
export {
  Excalidraw,
  CaptureUpdateAction,
  reconcileElements,
  restoreElements,
  convertToExcalidrawElements,
  MainMenu,
} from "@excalidraw/excalidraw";
