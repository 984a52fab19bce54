// Bundles the pinned editor libraries (Yjs, y-protocols, ProseMirror, y-prosemirror) into one
// ES module, static/vendor/editor/editor.js, with the licences of everything it contains.
// Run: cd frontend/editor && npm ci && npm run build   (the output is committed; running the
// app needs no Node.js).
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "..", "static", "vendor", "editor");
mkdirSync(out, { recursive: true });

// node_modules must hold exactly the pinned versions.
const pins = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).dependencies;
for (const [name, wanted] of Object.entries(pins)) {
  const have = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
  if (have !== wanted) throw new Error(`node_modules has ${name} ${have}, package.json pins ${wanted}: run npm ci`);
}

const result = await build({
  entryPoints: [join(here, "src", "editor.js")],
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"],
  legalComments: "none",
  metafile: true,
  outfile: join(out, "editor.js"),
});

// The licence of every package that ended up in the bundle.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (m) packages.add(m[m.length - 1].replace(/^node_modules\//, "").replace(/\/$/, ""));
}
const sections = [
  "Third-party software bundled in static/vendor/editor/editor.js",
  "(built by frontend/editor/build.mjs from the versions pinned in frontend/editor/package-lock.json)",
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
console.log(`editor.js: ${packages.size} packages: ${[...packages].sort().join(", ")}`);
