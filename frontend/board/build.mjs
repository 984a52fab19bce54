// Bundles the pinned whiteboard libraries into static/vendor/board/: board.js (Excalidraw with
// React; its locales as lazily loaded chunks; Yjs is the editor bundle's), board.css, fonts/
// (Excalidraw's hand-drawn and UI fonts; the 13 MB CJK fallback Xiaolai is left out) and
// formula.js (MathJax TeX -> SVG, loaded when «Формула» is used), with the licences of
// everything they contain. Run: cd frontend/board && npm ci && npm run build
// (the output is committed; running the app needs no Node.js).
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "..", "static", "vendor", "board");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// node_modules must hold exactly the pinned versions.
const pins = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).dependencies;
for (const [name, wanted] of Object.entries(pins)) {
  const have = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
  if (have !== wanted) throw new Error(`node_modules has ${name} ${have}, package.json pins ${wanted}: run npm ci`);
}

let fallbackRemoved = 0;
const result = await build({
  entryPoints: { board: join(here, "src", "board.js"), formula: join(here, "src", "formula.js") },
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  target: ["es2020"],
  conditions: ["production"],
  define: { "process.env.NODE_ENV": '"production"', "process.env.IS_PREACT": '"false"' },
  external: ["*.woff2"],
  legalComments: "none",
  metafile: true,
  chunkNames: "chunks/[name]-[hash]",
  outdir: out,
  plugins: [
    {
      name: "no-mermaid",
      setup(b) {
        b.onResolve({ filter: /^@excalidraw\/mermaid-to-excalidraw$/ }, () => ({ path: join(here, "src", "no-mermaid.js") }));
      },
    },
    {
      // Excalidraw lists a CDN (esm.sh) after the asset path as a second source of every font:
      // the board uses only the fonts it serves itself.
      name: "no-font-cdn",
      setup(b) {
        b.onLoad({ filter: /@excalidraw[\\/]excalidraw[\\/]dist[\\/]prod[\\/].*\.js$/ }, (args) => {
          const source = readFileSync(args.path, "utf8");
          const cdn = /(\w+)\.push\(new URL\((\w+),(\w+)\.ASSETS_FALLBACK_URL\)\),\1/g;
          if (!source.includes("ASSETS_FALLBACK_URL")) return { contents: source, loader: "js" };
          const patched = source.replace(cdn, "$1");
          if (patched === source) throw new Error(`${args.path}: the font CDN fallback was not found; update build.mjs`);
          fallbackRemoved += 1;
          return { contents: patched, loader: "js" };
        });
      },
    },
  ],
});

if (fallbackRemoved !== 1) throw new Error(`font CDN fallback removed ${fallbackRemoved} times, expected once`);

// Excalidraw's fonts, served from /static/vendor/board/fonts/ (window.EXCALIDRAW_ASSET_PATH).
const fonts = join(modules, "@excalidraw", "excalidraw", "dist", "prod", "fonts");
for (const family of readdirSync(fonts)) {
  if (family !== "Xiaolai") cpSync(join(fonts, family), join(out, "fonts", family), { recursive: true });
}

// The licence of every package that ended up in the bundle.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (m) packages.add(m[m.length - 1].replace(/^node_modules\//, "").replace(/\/$/, ""));
}
const sections = [
  "Third-party software bundled in static/vendor/board/",
  "(built by frontend/board/build.mjs from the versions pinned in frontend/board/package-lock.json)",
  "The fonts in fonts/ are Excalidraw's (see each family's licence in the Excalidraw repository: OFL-1.1).",
  "",
];
for (const name of [...packages].sort()) {
  const dir = join(modules, name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license"].map((f) => join(dir, f)).find(existsSync);
  sections.push("=".repeat(78), `${name} ${pkg.version} — ${pkg.license}`, "=".repeat(78));
  sections.push(file ? readFileSync(file, "utf8").trim() : `Licence: ${pkg.license} (no licence file in the package)`, "");
}
writeFileSync(join(out, "LICENSES.txt"), sections.join("\n") + "\n");
console.log(`board: ${packages.size} packages: ${[...packages].sort().join(", ")}`);
