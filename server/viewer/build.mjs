// Builds the viewer into dist/index.html: one self-contained page, its script and styles
// inlined, so any web server serves it right whatever MIME types it knows for .js and .css
// (module scripts and stylesheets are refused by browsers under a wrong type).
// dist/ is package data of leafcube.server and is copied into every assembled cube.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

// MapLibre's worker is a module of its own: inline its code, started from a Blob URL.
const workerCode = {
  name: "maplibre-worker-code",
  setup(b) {
    b.onResolve({ filter: /^maplibre-worker-code$/ }, () => ({ path: "worker", namespace: "mlw" }));
    b.onLoad({ filter: /.*/, namespace: "mlw" }, () => ({
      contents: readFileSync("node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs", "utf8"),
      loader: "text",
    }));
  },
};

const out = "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { app: "src/main.js" },
  bundle: true,
  format: "iife",
  minify: true,
  target: ["es2022"],
  outdir: "out",
  write: false,
  loader: { ".css": "css" },
  legalComments: "eof",
  logLevel: "warning",
  plugins: [workerCode],
});
const file = (ext) => result.outputFiles.find((f) => f.path.endsWith(ext)).text;
// `</script` or `<!--` inside the script would end or confuse the inline script element
const js = file(".js").replaceAll("</script", "<\\/script").replaceAll("<!--", "<\\!--");
const css = file(".css").replaceAll("</style", "<\\/style");
const html = readFileSync("src/index.html", "utf8")
  .replace('<link rel="stylesheet" href="viewer/app.css">', () => `<style>${css}</style>`)
  .replace('<script type="module" src="viewer/app.js"></script>', () => `<script>${js}</script>`);
if (html.includes("viewer/app.")) throw new Error("src/index.html lost its placeholders");
writeFileSync(`${out}/index.html`, html);
console.log(`viewer built: ${out}/index.html (${(html.length / 1e6).toFixed(2)} MB)`);
