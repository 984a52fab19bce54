// Copies the pinned Socket.IO browser client (its own prebuilt, minified ES module bundle)
// into static/vendor/socket.io/, with the licences of everything the bundle contains.
// Run: cd frontend/socketio && npm ci && npm run build   (the output is committed;
// running the app needs no Node.js).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "..", "static", "vendor", "socket.io");
mkdirSync(out, { recursive: true });

const pkg = JSON.parse(readFileSync(join(modules, "socket.io-client", "package.json"), "utf8"));
const wanted = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).dependencies["socket.io-client"];
if (pkg.version !== wanted) {
  throw new Error(`node_modules has socket.io-client ${pkg.version}, package.json pins ${wanted}: run npm ci`);
}

// The bundle keeps its "//# sourceMappingURL" comment, so ship the map next to it.
for (const name of ["socket.io.esm.min.js", "socket.io.esm.min.js.map"]) {
  copyFileSync(join(modules, "socket.io-client", "dist", name), join(out, name));
}

// socket.io-client's bundle includes these packages (all MIT).
const bundled = [
  "socket.io-client",
  "engine.io-client",
  "engine.io-parser",
  "socket.io-parser",
  "@socket.io/component-emitter",
];
const parts = bundled.map((name) => {
  const version = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
  const text = readFileSync(join(modules, name, "LICENSE"), "utf8").trim();
  return `${name} ${version}\n${"-".repeat(name.length + version.length + 1)}\n${text}\n`;
});
writeFileSync(
  join(out, "LICENSE"),
  `Socket.IO browser client ${pkg.version}, copied from socket.io-client/dist/socket.io.esm.min.js.\n` +
    `The bundle contains the following packages, each under its licence below.\n\n` +
    parts.join("\n"),
);
writeFileSync(join(out, "VERSION"), `${pkg.version}\n`);
console.log(`static/vendor/socket.io: socket.io-client ${pkg.version}`);
