// Copies axe-core's own minified build and licence into static/vendor/axe/ (used only by the
// browser tests, which inject it into the page). Refuses another version than the pin.
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";

const pinned = JSON.parse(readFileSync("package.json", "utf8")).devDependencies["axe-core"];
const installed = JSON.parse(readFileSync("node_modules/axe-core/package.json", "utf8")).version;
if (installed !== pinned) throw new Error(`node_modules has axe-core ${installed}, the pin is ${pinned}`);
const out = "../../static/vendor/axe";
mkdirSync(out, { recursive: true });
copyFileSync("node_modules/axe-core/axe.min.js", `${out}/axe.min.js`);
copyFileSync("node_modules/axe-core/LICENSE", `${out}/LICENSE`);
writeFileSync(`${out}/VERSION`, `axe-core ${installed}\n`);
console.log(`static/vendor/axe: axe-core ${installed}`);
