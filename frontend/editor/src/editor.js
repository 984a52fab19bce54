// The one entry point of static/vendor/editor/editor.js: everything the documents panel
// (static/js/room/documents.js) needs, bundled together so that y-prosemirror and the room
// share a single Yjs instance.
export * as Y from "yjs";
export * as syncProtocol from "y-protocols/sync";
export * as awarenessProtocol from "y-protocols/awareness";
export * as encoding from "lib0/encoding";
export * as decoding from "lib0/decoding";
export { EditorState } from "prosemirror-state";
export { EditorView } from "prosemirror-view";
export { Schema } from "prosemirror-model";
export { schema as basicSchema } from "prosemirror-schema-basic";
export { addListNodes, wrapInList, splitListItem, liftListItem, sinkListItem } from "prosemirror-schema-list";
export { keymap } from "prosemirror-keymap";
export { baseKeymap, toggleMark, setBlockType, chainCommands, exitCode } from "prosemirror-commands";
export { ySyncPlugin, yCursorPlugin, yUndoPlugin, undo, redo, initProseMirrorDoc } from "y-prosemirror";
