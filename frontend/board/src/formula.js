// static/vendor/board/formula.js: TeX -> a self-contained SVG (MathJax's SVG output draws every
// glyph as a path, so the picture needs no fonts wherever it is shown: on the board, in the
// server's SVG/PNG/PDF exports and in the protocol). Loaded only when «Формула» is used.
import { mathjax } from "mathjax-full/js/mathjax.js";
import { TeX } from "mathjax-full/js/input/tex.js";
import { SVG } from "mathjax-full/js/output/svg.js";
import { liteAdaptor } from "mathjax-full/js/adaptors/liteAdaptor.js";
import { RegisterHTMLHandler } from "mathjax-full/js/handlers/html.js";
import { AllPackages } from "mathjax-full/js/input/tex/AllPackages.js";

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const doc = mathjax.document("", {
  InputJax: new TeX({ packages: AllPackages.filter((p) => !["bussproofs", "require", "autoload"].includes(p)) }),
  OutputJax: new SVG({ fontCache: "none" }),
});

/** Render TeX to {svg, width, height} (pixels at 16 px per em, ex = 8 px), or throw on a TeX error. */
export function texToSvg(tex, { display = true, color = "#1e1e1e", exPixels = 8 } = {}) {
  const node = doc.convert(tex, { display, em: 16, ex: exPixels, containerWidth: 1200 });
  const svgNode = adaptor.firstChild(node);
  const err = adaptor.tags(svgNode, "merror");
  const errText = adaptor.tags(svgNode, "mjx-merror");
  if ((err && err.length) || (errText && errText.length)) throw new Error("tex");
  const ex = (v) => parseFloat(String(v).replace("ex", "")) * exPixels;
  const width = Math.max(1, Math.ceil(ex(adaptor.getAttribute(svgNode, "width"))));
  const height = Math.max(1, Math.ceil(ex(adaptor.getAttribute(svgNode, "height"))));
  adaptor.setAttribute(svgNode, "width", String(width));
  adaptor.setAttribute(svgNode, "height", String(height));
  adaptor.setAttribute(svgNode, "xmlns", "http://www.w3.org/2000/svg");
  adaptor.removeAttribute(svgNode, "style");
  let svg = adaptor.outerHTML(svgNode).replace(/currentColor/g, color);
  return { svg, width, height };
}
