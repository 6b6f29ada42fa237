// Browser tests against the whole local portal (tests/src/bin/local-portal.rs: moto, every function, this
// app), in Debian's Chromium: Playwright's runner, no browser download (see ../../shared/EMULATOR-NOTES.md).
import { defineConfig } from "@playwright/test";
import { execSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = Number(process.env.PORTAL_E2E_PORT ?? 3199);
export const INFO_FILE = process.env.PORTAL_INFO_FILE ?? join(tmpdir(), `tour-portal-e2e-${port}.json`);
process.env.PORTAL_INFO_FILE = INFO_FILE;

function chromium(): string {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  try {
    return execSync("command -v chromium || command -v chromium-browser", { shell: "/bin/sh" }).toString().trim();
  } catch {
    throw new Error("Chromium not found: apt-get install -y chromium (./scripts/test does), or set CHROMIUM");
  }
}

export default defineConfig({
  testDir: ".",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: true,
  workers: Number(process.env.PORTAL_E2E_WORKERS ?? 2),
  retries: 0,
  reporter: [["list"], ["html", { open: "never", outputFolder: "../playwright-report" }]],
  outputDir: "../test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    locale: "en-GB",
    timezoneId: "Europe/London",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: { executablePath: chromium(), args: ["--no-sandbox", "--disable-dev-shm-usage"] },
  },
  webServer: {
    command: "../../target/debug/local-portal",
    url: `http://127.0.0.1:${port}/config.json`,
    // Every test signs in from 127.0.0.1: more than production's 30 sign-ins per address in 15 minutes.
    env: { PORTAL_PORT: String(port), PORTAL_INFO_FILE: INFO_FILE, RUST_LOG: "warn", RATE_SIGN_IN_PER_CLIENT: "1000" },
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
  },
});
