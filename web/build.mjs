// Builds the static app into dist/: one minified, content-hashed JS entry and CSS file, and index.html
// pointing at them (no inline script or style, so the CSP needs no 'unsafe-inline'); code that is loaded on
// demand (the non-English catalogues) goes into content-hashed chunks beside them.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  splitting: true,
  // esbuild's own content hashes: a chunk's name is in the entry that imports it, so files are never renamed.
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  metafile: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: join(out, "assets"),
  legalComments: "none",
  logLevel: "warning",
});

const names = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const name = file.slice(join(out, "assets").length + 1);
  if (meta.entryPoint === "src/main.tsx" && file.endsWith(".js")) names["app.js"] = name;
  else if (/^app-.*\.css$/.test(name)) names["app.css"] = name;
  else if (!name.endsWith(".map")) names[name] = name;
}
if (!names["app.js"] || !names["app.css"]) throw new Error(`expected app.js and app.css, got ${Object.keys(names)}`);

const html = readFileSync("src/index.html", "utf8")
  .replace("%APP_JS%", `/assets/${names["app.js"]}`)
  .replace("%APP_CSS%", `/assets/${names["app.css"]}`);
writeFileSync(join(out, "index.html"), html);
console.log(`built ${out}/index.html, ${Object.values(names).map((n) => `assets/${n}`).join(", ")}`);
