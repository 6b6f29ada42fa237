// The web app's first-load benchmark (./scripts/bench runs it): the booking page opened by a signed-in
// customer in Debian's Chromium against the local portal, with the CPU throttled 4x (CDP). Reports requests,
// bytes transferred, the app's HTML + CSS + JS gzip-compressed (CloudFront compresses; the budget is 60 KB,
// Stripe.js excluded: it loads only on the pay page), and the time until the outstanding amount is visible.
//
//   node bench/first-load.mjs [--runs N] [--out file.json]
import { chromium } from "@playwright/test";
import { spawn, execSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] || 5) || 5;
const out = args.includes("--out") ? args[args.indexOf("--out") + 1] : null;
const port = 3000 + Math.floor(Math.random() * 1000) + 4000;
const infoFile = join(tmpdir(), `tour-portal-bench-${port}.json`);
rmSync(infoFile, { force: true });
const BUDGET = 60 * 1024;

const portal = spawn(new URL("../../target/debug/local-portal", import.meta.url).pathname, [], {
  env: { ...process.env, PORTAL_PORT: String(port), PORTAL_INFO_FILE: infoFile, RUST_LOG: "error" },
  stdio: ["ignore", "ignore", "inherit"],
});
const stop = () => portal.kill("SIGTERM");
process.on("exit", stop);
for (let i = 0; i < 600 && !existsSync(infoFile); i++) await new Promise((r) => setTimeout(r, 200));
if (!existsSync(infoFile)) throw new Error("the local portal did not start");
const info = JSON.parse(readFileSync(infoFile, "utf8"));
const base = info.base;

const executablePath = process.env.CHROMIUM || execSync("command -v chromium", { shell: "/bin/sh" }).toString().trim();
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const samples = [];
let resources = [];
for (let run = 0; run < runs; run++) {
  const context = await browser.newContext({ locale: "en-GB" });
  const page = await context.newPage();
  // Sign in (not measured): an operator-issued link, the button.
  const r = await page.request.post(`${base}/operator/bookings/AE-10001/magic-links`, {
    headers: { authorization: `Bearer ${info.operator_key}` },
    data: { send_email: false },
  });
  const { link } = await r.json();
  await page.goto(link);
  await page.getByRole("button", { name: "Sign in to my booking" }).click();
  await page.getByTestId("outstanding").waitFor();
  await page.goto("about:blank");

  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  const seen = new Map();
  cdp.on("Network.responseReceived", (e) => seen.set(e.requestId, { url: e.response.url, type: e.type, bytes: 0 }));
  cdp.on("Network.loadingFinished", (e) => {
    const s = seen.get(e.requestId);
    if (s) s.bytes = e.encodedDataLength;
  });
  const bodies = [];
  page.on("response", async (resp) => {
    const u = new URL(resp.url());
    if (u.pathname === "/trips/AE-10001" || u.pathname.startsWith("/assets/")) {
      try {
        bodies.push({ path: u.pathname, raw: (await resp.body()).length, gzip: gzipSync(await resp.body(), { level: 9 }).length });
      } catch {
        /* redirected or aborted */
      }
    }
  });
  const t0 = Date.now();
  await page.goto(`${base}/trips/AE-10001`);
  await page.getByTestId("outstanding").waitFor({ state: "visible", timeout: 60_000 });
  const ms = Date.now() - t0;
  await page.waitForLoadState("networkidle");
  samples.push({ ms, requests: seen.size, transferred: [...seen.values()].reduce((a, s) => a + s.bytes, 0), bodies });
  resources = [...seen.values()].map((s) => ({ path: new URL(s.url).pathname, type: s.type, bytes: s.bytes }));
  await context.close();
}
await browser.close();
stop();

const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
const last = samples[samples.length - 1];
const appGzip = last.bodies.reduce((a, b) => a + b.gzip, 0);
const report = {
  page: "/trips/AE-10001 (signed in, cache disabled, CPU 4x slower)",
  runs,
  time_to_outstanding_ms: { median, min: sorted[0], max: sorted[sorted.length - 1] },
  requests: last.requests,
  transferred_bytes_uncompressed_locally: last.transferred,
  app_html_css_js_gzip_bytes: appGzip,
  app_budget_bytes: BUDGET,
  within_budget: appGzip <= BUDGET,
  app_files: last.bodies,
  resources,
};
console.log(JSON.stringify(report, null, 2));
if (out) writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
process.exit(0);
