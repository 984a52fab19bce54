import"./chunk-PHKIAKHS.js";async function r(){throw new Error("Mermaid diagrams are not supported on this board")}export{r as parseMermaidToExcalidraw};
