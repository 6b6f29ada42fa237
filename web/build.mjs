// Builds the static app into dist/: one minified, content-hashed JS bundle and CSS file, and index.html
// pointing at them (no inline script or style, so the CSP needs no 'unsafe-inline').
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";

const out = "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
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
for (const f of readdirSync(join(out, "assets"))) {
  const body = readFileSync(join(out, "assets", f));
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  const hashed = f.replace(/\.(js|css)$/, `-${hash}.$1`);
  renameSync(join(out, "assets", f), join(out, "assets", hashed));
  names[f] = hashed;
}
if (!names["app.js"] || !names["app.css"]) throw new Error(`expected app.js and app.css, got ${Object.keys(names)}`);

const html = readFileSync("src/index.html", "utf8")
  .replace("%APP_JS%", `/assets/${names["app.js"]}`)
  .replace("%APP_CSS%", `/assets/${names["app.css"]}`);
writeFileSync(join(out, "index.html"), html);
console.log(`built ${out}/index.html, ${Object.values(names).map((n) => `assets/${n}`).join(", ")}`);
