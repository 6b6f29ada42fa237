// The booking page in each locale (no untranslated string) and for each demo brand (its name, colours with
// WCAG 2.2 AA contrast), with a screenshot per brand and locale under web/screenshots/ (git-ignored).
import { expect, test, type Page } from "@playwright/test";
import { Driver, expectAccessible, freshBooking, operatorLink, signInWithLink } from "./portal";
import { enGB } from "../src/i18n/en-GB";

const LOCALES = ["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL", "ja-JP"] as const;
const HEADINGS: Record<(typeof LOCALES)[number], string> = {
  "en-GB": "Booking",
  "en-US": "Booking",
  "de-DE": "Buchung",
  "fr-FR": "Réservation",
  "nl-NL": "Boeking",
  "ja-JP": "予約",
};

/** Text that would mean a missing translation: a raw key, or an English sentence in another language. */
async function untranslated(page: Page, locale: string): Promise<string[]> {
  const text = await page.locator("body").innerText();
  const keys = Object.keys(enGB).filter((k) => text.includes(k));
  if (locale.startsWith("en")) return keys;
  const english = ["Payment history", "Outstanding", "Total price", "Make a payment", "Travellers", "Documents are", "Sign out"];
  return [...keys, ...english.filter((s) => text.includes(s))];
}


/** Documents are rendered by the worker after the upsert: wait for them so the screenshot shows the page whole. */
async function documentsReady(page: Page): Promise<void> {
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("documents")).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 30_000 });
}

for (const locale of LOCALES) {
  test(`booking page in ${locale}: every string translated, money and dates formatted by the API`, async ({ page, request }) => {
    const b = await freshBooking(request);
    const d = new Driver(page, "keyboard");
    await signInWithLink(d, (await operatorLink(request, b.reference)).link);
    // The switcher, by keyboard; the choice is remembered.
    await d.choose(page.getByTestId("locale"), locale);
    await expect(page.getByRole("heading", { level: 1 })).toContainText(HEADINGS[locale]);
    await expect(page.locator("html")).toHaveAttribute("lang", locale);
    const outstanding = page.getByTestId("outstanding");
    const expected: Record<string, RegExp> = {
      "en-GB": /£2,580\.50/,
      "en-US": /£2,580\.50/,
      "de-DE": /2\.580,50\s£/,
      "fr-FR": /2\s580,50\s£GB/,
      "nl-NL": /£\s2\.580,50/,
      "ja-JP": /£2,580\.50/,
    };
    await expect(outstanding).toHaveText(expected[locale] ?? /./);
    await documentsReady(page);
    expect(await untranslated(page, locale)).toEqual([]);
    await expectAccessible(page, `booking page (${locale})`);
    await page.screenshot({ path: `screenshots/booking-alpine-escapes-${locale}.png`, fullPage: true });
    await page.reload();
    await expect(page.locator("html")).toHaveAttribute("lang", locale);
  });
}

/** WCAG relative luminance contrast of two #rrggbb colours. */
function contrast(a: string, b: string): number {
  const lum = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (bl ?? 0);
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return ((x ?? 0) + 0.05) / ((y ?? 0) + 0.05);
}

const BRANDS = [
  { template: "AE-10001", brand: "alpine-escapes", name: "Alpine Escapes", locale: "en-GB" },
  { template: "ST-30003", brand: "sakura-tours", name: "Sakura Tours", locale: "ja-JP" },
  { template: "GJ-40004", brand: "gulf-journeys", name: "Gulf Journeys", locale: "en-GB" },
];

for (const x of BRANDS) {
  test(`${x.name}: branded booking page, AA contrast, in the booking's own locale`, async ({ browser, request }) => {
    // A browser whose languages the portal does not speak: the booking's own locale is used.
    const context = await browser.newContext({ locale: "pt-BR" });
    const page = await context.newPage();
    const config = (await (await request.get("/config.json")).json()) as { brands: Record<string, { primary_colour: string; name: string }> };
    const colour = config.brands[x.brand]?.primary_colour ?? "";
    // The brand colour carries white button text and is used as link text on white: both need 4.5:1.
    expect(contrast(colour, "#ffffff"), `${x.brand} ${colour} on white`).toBeGreaterThanOrEqual(4.5);
    const b = await freshBooking(request, x.template);
    await signInWithLink(new Driver(page, "pointer"), (await operatorLink(request, b.reference)).link);
    await expect(page.locator(".brand")).toContainText(x.name);
    await expect(page).toHaveTitle(new RegExp(`${x.name}$`));
    await expect(page.locator("html")).toHaveAttribute("lang", x.locale);
    const bar = await page.locator(".top").evaluate((el) => getComputedStyle(el).borderTopColor);
    const [r, g, bl] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    expect(bar).toBe(`rgb(${r}, ${g}, ${bl})`);
    await documentsReady(page);
    await expectAccessible(page, `${x.name} booking page`);
    await page.screenshot({ path: `screenshots/booking-${x.brand}-${x.locale}.png`, fullPage: true });
    await context.close();
  });
}

test("one catalogue per language: none for English, one chunk when German is chosen, remembered on reload", async ({ page, request }) => {
  const chunks: string[] = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/assets/chunk-")) chunks.push(path);
  });
  const b = await freshBooking(request);
  await signInWithLink(new Driver(page, "keyboard"), (await operatorLink(request, b.reference)).link);
  await expect(page.getByTestId("outstanding")).toHaveText(/£2,580\.50/);
  expect(chunks, "English needs no catalogue chunk").toEqual([]);
  await new Driver(page, "keyboard").choose(page.getByTestId("locale"), "de-DE");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Buchung");
  await expect(page.getByTestId("outstanding")).toHaveText(/2\.580,50\s£/);
  expect(chunks).toHaveLength(1);
  // A first load in German (the choice is remembered) paints German straight away, with the same one chunk.
  chunks.length = 0;
  await page.reload();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Buchung");
  await expect(page.locator("html")).toHaveAttribute("lang", "de-DE");
  expect(chunks).toHaveLength(1);
  await expectAccessible(page, "booking page (de-DE, first load)");
});
