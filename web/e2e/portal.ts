// What the browser tests need from the local portal: fresh bookings through the operator API, sign-in links
// the operator route returns, the emails moto's SES holds, and journeys driven by pointer or keyboard only.
import { expect, type Locator, type Page, type APIRequestContext } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { readFileSync } from "node:fs";

interface Info {
  base: string;
  operator_key: string;
  moto_url: string;
  demo_bookings: Record<string, Record<string, unknown>>;
}

export function info(): Info {
  return JSON.parse(readFileSync(process.env.PORTAL_INFO_FILE ?? "", "utf8")) as Info;
}

export interface Fresh {
  reference: string;
  emails: Record<string, string>;
}

let counter = 0;
/** A copy of a demo booking under a new reference, with its own traveller emails (no shared rate limits). */
export async function freshBooking(
  request: APIRequestContext,
  template = "AE-10001",
  change: (b: Record<string, unknown>) => void = () => undefined,
): Promise<Fresh> {
  const i = info();
  const prefix = template.split("-")[0] ?? "PW";
  const reference = `${prefix}-${Date.now().toString().slice(-7)}${process.pid % 100}${counter++}`.slice(0, 20);
  const body = structuredClone(i.demo_bookings[template]) as Record<string, unknown> & {
    travellers: { id: string; email?: string }[];
  };
  const emails: Record<string, string> = {};
  for (const t of body.travellers) {
    if (t.email) {
      t.email = t.email.replace("@", `+${reference.toLowerCase()}@`);
      emails[t.id] = t.email;
    }
  }
  change(body);
  const r = await request.put(`/operator/bookings/${reference}`, {
    headers: { authorization: `Bearer ${i.operator_key}` },
    data: body,
  });
  expect(r.status(), await r.text()).toBe(201);
  return { reference, emails };
}

/** A sign-in link and code for one traveller (the operator route, returned rather than emailed). */
export async function operatorLink(
  request: APIRequestContext,
  reference: string,
  travellerId?: string,
): Promise<{ link: string; code: string }> {
  const r = await request.post(`/operator/bookings/${reference}/magic-links`, {
    headers: { authorization: `Bearer ${info().operator_key}` },
    data: travellerId ? { send_email: false, traveller_id: travellerId } : { send_email: false },
  });
  expect(r.status(), await r.text()).toBe(201);
  return (await r.json()) as { link: string; code: string };
}

/** The newest sign-in email moto's SES accepted for `address`, as its link path and code. */
export async function signInEmail(request: APIRequestContext, address: string): Promise<{ path: string; code: string }> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await request.get(`${info().moto_url}/moto-api/data.json`);
    if (r.ok()) {
      const data = (await r.json()) as { ses?: { Message?: unknown[]; RawMessage?: unknown[] } };
      const all = [...(data.ses?.Message ?? []), ...(data.ses?.RawMessage ?? [])].map((m) => JSON.stringify(m));
      const mine = all.filter((m) => m.toLowerCase().includes(address.toLowerCase()) && m.includes("sign-in#token="));
      const last = mine[mine.length - 1];
      if (last) {
        const token = /sign-in#token=([A-Za-z0-9_-]{43})/.exec(last)?.[1];
        const code = /\b(\d{8})\b/.exec(last.replace(/sign-in#token=[A-Za-z0-9_-]{43}/g, ""))?.[1];
        if (token && code) return { path: `/sign-in#token=${token}`, code };
      }
    }
    await new Promise((res) => setTimeout(res, 300));
  }
  throw new Error(`no sign-in email for ${address}`);
}

export type Mode = "pointer" | "keyboard";

/** Drive the page by pointer, or by keyboard only: Tab until the target has focus, then Enter/Space/typing. */
export class Driver {
  constructor(
    readonly page: Page,
    readonly mode: Mode,
  ) {}

  async focus(target: Locator, maxTabs = 80): Promise<void> {
    await expect(target).toBeVisible();
    for (let i = 0; i < maxTabs; i++) {
      const focused = await target.evaluate((el) => el === el.ownerDocument.activeElement && el.ownerDocument.hasFocus());
      if (focused) return;
      await this.page.keyboard.press("Tab");
    }
    throw new Error(`could not reach ${target.toString()} with Tab`);
  }

  async press(target: Locator): Promise<void> {
    if (this.mode === "pointer") return target.click();
    const radio = await target.evaluate((el) => (el instanceof HTMLInputElement && el.type === "radio" ? el.name : null));
    if (radio) return this.pickRadio(target, radio);
    await this.focus(target);
    const tag = await target.evaluate((el) => `${el.tagName}:${el.getAttribute("type") ?? ""}`);
    await this.page.keyboard.press(tag.startsWith("INPUT:radio") || tag.startsWith("INPUT:checkbox") ? "Space" : "Enter");
  }

  /** A radio group is one Tab stop (its checked radio); the arrow keys move the choice within it. */
  private async pickRadio(target: Locator, name: string): Promise<void> {
    const inGroup = () =>
      this.page.evaluate((n) => {
        const a = document.activeElement;
        return a instanceof HTMLInputElement && a.type === "radio" && a.name === n;
      }, name);
    for (let i = 0; i < 80 && !(await inGroup()); i++) await this.page.keyboard.press("Tab");
    if (!(await inGroup())) throw new Error(`could not reach the radio group ${name} with Tab`);
    for (let i = 0; i < 10 && !(await target.isChecked()); i++) await this.page.keyboard.press("ArrowDown");
    await expect(target).toBeChecked();
  }

  async fill(target: Locator, text: string): Promise<void> {
    if (this.mode === "pointer") return target.fill(text);
    await this.focus(target);
    await this.page.keyboard.press("ControlOrMeta+a");
    await this.page.keyboard.type(text);
  }

  async choose(select: Locator, value: string): Promise<void> {
    if (this.mode === "pointer") {
      await select.selectOption(value);
      return;
    }
    await this.focus(select);
    await select.selectOption(value); // a focused <select> changes with the arrow keys; Playwright sets the same value
  }
}

/** axe-core on the page as it is: no violations (WCAG 2.x A/AA rules and best practices). */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(summary, `axe on ${what}`).toEqual([]);
}

/** Open a sign-in link and press the button, landing on the booking. */
export async function signInWithLink(d: Driver, path: string): Promise<void> {
  await d.page.goto(path.replace(/^https?:\/\/[^/]+/, ""));
  await d.press(d.page.getByRole("button", { name: "Sign in to my booking" }));
  await expect(d.page).toHaveURL(/\/trips\/[A-Z0-9-]+/);
}

/** The operator API with the local operator key (the agent's side of a test). */
export async function operatorApi(
  request: APIRequestContext,
  method: "GET" | "POST" | "PUT",
  path: string,
  data?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request.fetch(path, {
    method,
    headers: { authorization: `Bearer ${info().operator_key}` },
    ...(data === undefined ? {} : { data }),
  });
  const text = await r.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: r.status(), body };
}

/** A day `days` from today (UTC) as YYYY-MM-DD. */
export function inDays(days: number): string {
  const t = new Date();
  t.setUTCDate(t.getUTCDate() + days);
  return t.toISOString().slice(0, 10);
}

const dateOrders = new WeakMap<Page, "DMY" | "MDY" | "YMD">();

/** A date typed into <input type="date"> segment by segment by keyboard (pointer mode fills the ISO value).
 * The segments' order is the browser's own (its UI locale, not the page's): the first date typed on a page
 * finds it out with a probe date, read back, then the arrow keys return to the first segment. */
export async function typeDate(d: Driver, input: Locator, iso: string): Promise<void> {
  if (d.mode === "pointer") {
    await input.fill(iso);
  } else {
    const [y = "", m = "", day = ""] = iso.split("-");
    const keys = d.page.keyboard;
    await d.focus(input);
    let order = dateOrders.get(d.page);
    if (!order) {
      await keys.type("01021999");
      const v = await input.inputValue();
      order = v === "1999-02-01" ? "DMY" : v === "1999-01-02" ? "MDY" : "YMD";
      dateOrders.set(d.page, order);
      await keys.press("ArrowLeft");
      await keys.press("ArrowLeft");
    }
    if (order === "DMY") await keys.type(`${day}${m}${y}`);
    else if (order === "MDY") await keys.type(`${m}${day}${y}`);
    else {
      await keys.type(y);
      await keys.press("ArrowRight");
      await keys.type(`${m}${day}`);
    }
  }
  await expect(input).toHaveValue(iso);
}

/** The page fits its viewport's width (no sideways scrolling at 360 px). */
export async function noHorizontalScroll(page: Page): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "the page fits the viewport's width").toBeLessThanOrEqual(0);
}
