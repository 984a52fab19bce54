// Stands in for @excalidraw/mermaid-to-excalidraw (Mermaid with d3, cytoscape, elk: ~8 MB of
// chunks) — the board does not offer diagrams from Mermaid text, so a pasted Mermaid text is
// simply not converted.
export async function parseMermaidToExcalidraw() {
  throw new Error("Mermaid diagrams are not supported on this board");
}
