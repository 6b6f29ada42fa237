// Traveller details (docs/traveller-details.md): a party of four filled to 100 % by keyboard only (en-GB, and
// again in de-DE), the form
// in German with the API's 422 shown next to each field, a traveller who sees only themself, history and
// restore (and a stale save), the profile from the last trip, and the customer's own data (export, erasure).
// Screenshots under web/screenshots/.
import { expect, test, type Locator, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { Driver, expectAccessible, freshBooking, operatorLink, signInWithLink } from "./portal";

/** The id the form gives the input of an API field path (`address.lines[1]` → `td-address-lines-1`). */
const fid = (path: string) => `td-${path.replace(/\[(\d+)\]/g, "-$1").replace(/\./g, "-")}`;
const field = (page: Page, path: string): Locator => page.locator(`#${fid(path)}`);

let dateOrder: "DMY" | "MDY" | "YMD" | null = null;

/** A date typed into <input type="date"> segment by segment (pointer mode fills the ISO value). The segments'
 * order is the browser's own (its UI locale, not the page's), so the first date typed finds it out: a probe
 * date typed in, read back, then the arrow keys return to the first segment. */
async function typeDate(d: Driver, input: Locator, iso: string): Promise<void> {
  if (d.mode === "pointer") {
    await input.fill(iso);
  } else {
    const [y = "", m = "", day = ""] = iso.split("-");
    const keys = d.page.keyboard;
    await d.focus(input);
    if (dateOrder === null) {
      await keys.type("01021999");
      const v = await input.inputValue();
      dateOrder = v === "1999-02-01" ? "DMY" : v === "1999-01-02" ? "MDY" : "YMD";
      await keys.press("ArrowLeft");
      await keys.press("ArrowLeft");
    }
    if (dateOrder === "DMY") await keys.type(`${day}${m}${y}`);
    else if (dateOrder === "MDY") await keys.type(`${m}${day}${y}`);
    else {
      await keys.type(y);
      await keys.press("ArrowRight");
      await keys.type(`${m}${day}`);
    }
  }
  await expect(input).toHaveValue(iso);
}

/** A day `days` from today as YYYY-MM-DD. */
function inDays(days: number): string {
  const t = new Date();
  t.setUTCDate(t.getUTCDate() + days);
  return t.toISOString().slice(0, 10);
}

interface Person {
  given: string;
  surname: string;
  dob: string;
  nationality: string;
  docNumber: string;
  docCountry: string;
  docExpiry: string;
  ecName: string;
  ecRelation: string;
  ecPhone: string;
}

const PARTY: Record<string, Person> = {
  G1: { given: "Grace Brewster", surname: "Hopper", dob: "1980-01-02", nationality: "US", docNumber: "541234567", docCountry: "US", docExpiry: "2034-05-01", ecName: "Walter Hopper", ecRelation: "brother", ecPhone: "+1 202 456 1111" },
  G2: { given: "Alan Mathison", surname: "Turing", dob: "1982-06-23", nationality: "GB", docNumber: "123456789", docCountry: "GB", docExpiry: "2033-09-30", ecName: "Sara Turing", ecRelation: "mother", ecPhone: "+44 20 7946 0958" },
  G3: { given: "Katherine", surname: "Johnson", dob: "1978-08-26", nationality: "US", docNumber: "987654321", docCountry: "US", docExpiry: "2032-03-15", ecName: "James Johnson", ecRelation: "husband", ecPhone: "+1 212 736 3100" },
  G4: { given: "Edsger Wybe", surname: "Dijkstra", dob: "1975-05-11", nationality: "NL", docNumber: "NX1234567", docCountry: "NL", docExpiry: "2035-12-31", ecName: "Ria Dijkstra", ecRelation: "partner", ecPhone: "+31 20 794 6095" },
};

/** The operator asks for more than the default: nationality, a passport valid six months after travel, diet. */
const REQUIRE = {
  required: ["legal_name", "date_of_birth", "nationality", "travel_document", "dietary_requirements", "emergency_contact"],
  document_validity: { months_after_travel: 6, enforcement: "refuse" },
};

/** Every required field, in the form's order, by the driver (keyboard: Tab, typing, Space, Enter). */
async function fillRequired(d: Driver, page: Page, p: Person): Promise<void> {
  await d.fill(field(page, "legal_name.given_names"), p.given);
  await d.fill(field(page, "legal_name.surname"), p.surname);
  await typeDate(d, field(page, "date_of_birth"), p.dob);
  await d.choose(field(page, "nationality"), p.nationality);
  await d.choose(field(page, "travel_document.kind"), "passport");
  await d.fill(field(page, "travel_document.number"), p.docNumber);
  await d.choose(field(page, "travel_document.issuing_country"), p.docCountry);
  await typeDate(d, field(page, "travel_document.expiry_date"), p.docExpiry);
  await d.press(page.locator(`#${fid("dietary_requirements")}-none`));
  await expect(page.locator(`#${fid("dietary_requirements")}-none`)).toBeChecked();
  await d.fill(field(page, "emergency_contact.name"), p.ecName);
  await d.fill(field(page, "emergency_contact.relation"), p.ecRelation);
  await d.fill(field(page, "emergency_contact.phone"), p.ecPhone);
}

test("a party of four filled to 100 % by keyboard only, as the lead (en-GB)", async ({ page, request }) => {
  test.setTimeout(300_000);
  const d = new Driver(page, "keyboard");
  const b = await freshBooking(request, "AE-50005", (body) => {
    body.traveller_details = REQUIRE;
  });
  await signInWithLink(d, (await operatorLink(request, b.reference)).link);

  // The booking's to-do names the missing fields in words and leads to the travellers page.
  const todo = page.getByRole("link", { name: /^Details missing for Alan: name as in the travel document, date of birth, nationality, travel document, dietary requirements and emergency contact$/ });
  await expect(todo).toBeVisible();
  await d.press(todo);
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/travellers$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Traveller details");
  await expect(page.getByTestId("party").locator(":scope > li")).toHaveCount(4);
  await expect(page.getByTestId("traveller-G2")).toContainText("0% complete");
  await expect(page.getByTestId("traveller-G2")).toContainText("Still needed: name as in the travel document, date of birth");
  await expect(page.getByTestId("booking-percent")).not.toContainText("100%");
  await expectAccessible(page, "travellers list");
  await page.screenshot({ path: "screenshots/traveller-details-list-en-GB.png", fullPage: true });

  let first = true;
  for (const [id, p] of Object.entries(PARTY)) {
    const name = `${id === "G1" ? "Grace" : id === "G2" ? "Alan" : id === "G3" ? "Katherine" : "Edsger"} ${p.surname}`;
    await d.press(page.getByRole("link", { name: `Fill in or change the details for ${name}` }));
    await expect(page).toHaveURL(new RegExp(`/travellers/${id}$`));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Details for ${name}`);
    // Required fields are marked from the operator's requirements; optional ones are not.
    await expect(page.getByLabel("Surname")).toHaveAttribute("aria-required", "true");
    await expect(field(page, "phone")).not.toHaveAttribute("aria-required", "true");
    // The consent wording is the API's.
    await expect(page.getByLabel("Yes, send me emails with travel offers and news. I can unsubscribe at any time.")).not.toBeChecked();

    if (first) {
      await expectAccessible(page, "empty details form");
      await page.screenshot({ path: "screenshots/traveller-details-form-en-GB.png", fullPage: true });
      // A first try with mistakes: a passport that expires too soon after the trip and a phone number that is not one.
      await d.fill(field(page, "legal_name.given_names"), p.given);
      await d.choose(field(page, "travel_document.kind"), "passport");
      await d.fill(field(page, "travel_document.number"), p.docNumber);
      await d.choose(field(page, "travel_document.issuing_country"), p.docCountry);
      await typeDate(d, field(page, "travel_document.expiry_date"), inDays(200));
      await d.fill(field(page, "phone"), "12");
      await d.press(page.getByRole("button", { name: "Save details" }));
      const summary = page.getByTestId("error-summary");
      await expect(summary).toBeFocused();
      await expect(summary.getByRole("heading")).toHaveText("There are 3 problems with the form");
      await expect(page.locator(`#${fid("legal_name.surname")}-error`)).toHaveText("Fill this in.");
      await expect(page.locator(`#${fid("travel_document.expiry_date")}-error`)).toContainText("The document must be valid until at least");
      await expect(page.locator(`#${fid("phone")}-error`)).toHaveText(/Enter a valid phone number/);
      for (const path of ["legal_name.surname", "travel_document.expiry_date", "phone"]) {
        await expect(field(page, path)).toHaveAttribute("aria-invalid", "true");
        await expect(field(page, path)).toHaveAttribute("aria-describedby", new RegExp(`${fid(path)}-error`));
      }
      await expectAccessible(page, "details form with errors");
      await page.screenshot({ path: "screenshots/traveller-details-errors-en-GB.png", fullPage: true });
      // The summary's links take the keyboard to the field.
      await d.press(summary.getByRole("link", { name: /^Mobile phone number/ }));
      await expect(field(page, "phone")).toBeFocused();
      await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.press("Backspace");
      // Back up the form with Shift+Tab to the first field, then fill every required field in order.
      for (let i = 0; i < 120; i++) {
        if (await field(page, "legal_name.given_names").evaluate((el) => el === document.activeElement)) break;
        await page.keyboard.press("Shift+Tab");
      }
      await expect(field(page, "legal_name.given_names")).toBeFocused();
    }
    await fillRequired(d, page, p);
    await d.press(page.getByRole("button", { name: "Save details" }));
    const saved = page.getByTestId("details-message");
    await expect(saved).toHaveText(new RegExp(`Saved\\. The details for ${name} are 100% complete\\.`));
    await expect(saved).toBeFocused();
    await expect(page.getByTestId("traveller-percent")).toHaveText("100% complete");
    await expect(field(page, "travel_document.number")).toHaveValue("");
    await expect(page.getByText(`Leave empty to keep •••••${p.docNumber.slice(-3)}.`)).toBeVisible();
    if (first) {
      await expectAccessible(page, "filled details form");
      await page.screenshot({ path: "screenshots/traveller-details-filled-en-GB.png", fullPage: true });
    }
    first = false;
    await d.press(saved.getByRole("link", { name: "Back to traveller details" }));
    await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/travellers$`));
    await expect(page.getByTestId(`traveller-${id}`)).toContainText("100% complete");
    await expect(page.getByTestId(`traveller-${id}`)).toContainText("Everything your tour operator needs is in.");
  }

  await expect(page.getByTestId("booking-percent")).toHaveText(`Booking ${b.reference}: 100% complete`);
  await expectAccessible(page, "travellers list at 100 %");
  await page.screenshot({ path: "screenshots/traveller-details-list-100-en-GB.png", fullPage: true });

  await d.press(page.getByRole("link", { name: "Back to the booking" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
  await expect(page.getByTestId("outstanding")).toBeVisible();
  await expect(page.getByRole("link", { name: /^Details missing for/ })).toHaveCount(0);
  await expect(page.getByTestId("travellers")).not.toContainText("Details missing");
  await expect(page.getByTestId("travellers")).toContainText("Traveller details: 100% complete");
});

test("the same party of four filled to 100 % by keyboard only in German (de-DE)", async ({ browser, request }) => {
  test.setTimeout(300_000);
  const context = await browser.newContext({ locale: "de-DE", timezoneId: "Europe/Berlin" });
  const page = await context.newPage();
  const d = new Driver(page, "keyboard");
  dateOrder = null; // this browser context's date fields may order their segments differently
  const b = await freshBooking(request, "AE-50005", (body) => {
    body.traveller_details = REQUIRE;
  });
  await page.goto((await operatorLink(request, b.reference)).link.replace(/^https?:\/\/[^/]+/, ""));
  await d.press(page.getByRole("button", { name: "Bei meiner Buchung anmelden" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
  await expect(page.locator("html")).toHaveAttribute("lang", "de-DE");

  await d.press(page.getByRole("link", { name: /^Fehlende Angaben für Alan: / }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/travellers$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Reisendendaten");
  await expect(page.getByTestId("booking-percent")).not.toContainText(/(^|\D)100\s*%/);
  await expectAccessible(page, "German travellers list");

  for (const [id, p] of Object.entries(PARTY)) {
    const first = id === "G1" ? "Grace" : id === "G2" ? "Alan" : id === "G3" ? "Katherine" : "Edsger";
    const name = `${first} ${p.surname}`;
    await d.press(page.getByRole("link", { name: `Angaben für ${name} ausfüllen oder ändern` }));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Angaben für ${name}`);
    await fillRequired(d, page, p);
    await d.press(page.getByRole("button", { name: "Angaben speichern" }));
    const saved = page.getByTestId("details-message");
    await expect(saved).toHaveText(new RegExp(`^Gespeichert\\. Die Angaben für ${name} sind zu 100\\s%\\svollständig\\.`));
    await expect(saved).toBeFocused();
    if (id === "G1") await expectAccessible(page, "German filled details form");
    await d.press(saved.getByRole("link", { name: "Zurück zu den Reisendendaten" }));
    await expect(page.getByTestId(`traveller-${id}`)).toContainText("Alles, was Ihr Reiseveranstalter braucht, liegt vor.");
  }

  await expect(page.getByTestId("booking-percent")).toHaveText(new RegExp(`^Buchung ${b.reference}: 100\\s%\\svollständig$`));
  await expectAccessible(page, "German travellers list at 100 %");
  await page.screenshot({ path: "screenshots/traveller-details-list-100-de-DE.png", fullPage: true });
  await d.press(page.getByRole("link", { name: "Zurück zur Buchung" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
  await expect(page.getByRole("link", { name: /^Fehlende Angaben für/ })).toHaveCount(0);
  await expect(page.getByTestId("travellers")).toContainText(/Reisendendaten: 100\s%\svollständig/);
  await context.close();
});

test("the form in German: the API's 422 next to each field, then saved (de-DE)", async ({ browser, request }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ locale: "de-DE", timezoneId: "Europe/Berlin" });
  const page = await context.newPage();
  const d = new Driver(page, "pointer");
  const b = await freshBooking(request, "AE-10001", (body) => {
    body.traveller_details = { ...REQUIRE, required: [...REQUIRE.required, "phone"] };
  });
  // The browser speaks German, so the app does from the start (the sign-in page too).
  await page.goto((await operatorLink(request, b.reference)).link.replace(/^https?:\/\/[^/]+/, ""));
  await d.press(page.getByRole("button", { name: "Bei meiner Buchung anmelden" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
  await expect(page.locator("html")).toHaveAttribute("lang", "de-DE");
  await page.goto(`/trips/${b.reference}/travellers/T1`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Angaben für Ada Lovelace");
  // Countries are named in German by the browser; the consent wording comes from the API in German.
  await expect(field(page, "nationality").locator("option[value=CH]")).toHaveText("Schweiz");
  await expect(page.getByText(/^Ja, ich möchte E-Mails mit Reiseangeboten/)).toBeVisible();
  await expect(page.getByText("Geburtsdatum (Pflichtangabe)")).toBeVisible();

  await d.fill(field(page, "legal_name.given_names"), "Augusta Ada");
  await d.fill(field(page, "legal_name.surname"), "King");
  await d.choose(field(page, "nationality"), "GB");
  await d.choose(field(page, "travel_document.kind"), "passport");
  await d.fill(field(page, "travel_document.number"), "X1234567");
  await d.choose(field(page, "travel_document.issuing_country"), "GB");
  await typeDate(d, field(page, "travel_document.expiry_date"), inDays(130)); // travel ends in 127 days; 6 months are asked
  await d.press(page.locator(`#${fid("dietary_requirements")}-none`));
  await d.fill(field(page, "emergency_contact.name"), "William King");
  await d.fill(field(page, "emergency_contact.relation"), "Ehemann");
  await d.fill(field(page, "emergency_contact.phone"), "+44 20 7946 0958");
  await d.fill(field(page, "phone"), "0000");
  await d.press(page.getByRole("button", { name: "Angaben speichern" }));

  const summary = page.getByTestId("error-summary");
  await expect(summary).toBeFocused();
  await expect(summary.getByRole("heading")).toHaveText("Das Formular enthält 2 Fehler");
  await expect(summary.getByRole("link")).toHaveText([/^Gültig bis: Das Dokument muss mindestens bis zum/, /^Mobiltelefonnummer: Bitte geben Sie eine gültige Telefonnummer/]);
  const expiryError = page.locator(`#${fid("travel_document.expiry_date")}-error`);
  await expect(expiryError).toHaveText(/^Das Dokument muss mindestens bis zum \d{1,2}\. \p{L}+ \d{4} gültig sein\.$/u);
  await expect(page.locator(`#${fid("phone")}-error`)).toHaveText(/^Bitte geben Sie eine gültige Telefonnummer/);
  for (const path of ["travel_document.expiry_date", "phone"]) {
    await expect(field(page, path)).toHaveAttribute("aria-invalid", "true");
    await expect(field(page, path)).toHaveAttribute("aria-describedby", new RegExp(`${fid(path)}-error`));
  }
  await expect(field(page, "legal_name.surname")).not.toHaveAttribute("aria-invalid", "true");
  // Each message sits in the same field block as its input.
  await expect(page.locator(".field.invalid").filter({ has: field(page, "phone") })).toContainText("gültige Telefonnummer");
  await expectAccessible(page, "German details form with errors");
  await page.screenshot({ path: "screenshots/traveller-details-errors-de-DE.png", fullPage: true });
  const text = await page.locator("main").innerText();
  for (const english of ["Save details", "Traveller details", "required", "Fill this in", "Change history", "Download my data"]) {
    expect(text, `untranslated: ${english}`).not.toContain(english);
  }

  // Summary link → the field; fixed, saved.
  await summary.getByRole("link", { name: /^Mobiltelefonnummer/ }).click();
  await expect(field(page, "phone")).toBeFocused();
  await d.fill(field(page, "phone"), "020 7946 0958");
  await typeDate(d, field(page, "travel_document.expiry_date"), "2034-01-31");
  await d.press(page.getByRole("button", { name: "Angaben speichern" }));
  await expect(page.getByTestId("details-message")).toHaveText(/Gespeichert\. Die Angaben für Ada Lovelace sind zu 100\s%\svollständig\./);
  await expect(page.getByTestId("error-summary")).toHaveCount(0);
  await expect(field(page, "phone")).toHaveValue("+442079460958");
  await expect(page.getByText("Leer lassen, um •••••567 beizubehalten.")).toBeVisible();
  await expect(page.getByTestId("history")).toContainText("Version 1");
  await expect(page.getByTestId("history")).toContainText("Dokumentnummer: geändert");
  await expectAccessible(page, "German details form saved");
  await page.screenshot({ path: "screenshots/traveller-details-form-de-DE.png", fullPage: true });
  await context.close();
});

test("a traveller who is not the lead sees and edits only themself", async ({ page, request }) => {
  const d = new Driver(page, "pointer");
  const b = await freshBooking(request, "AE-50005");
  await signInWithLink(d, (await operatorLink(request, b.reference, "G2")).link);
  await page.goto(`/trips/${b.reference}/travellers`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Traveller details");
  await expect(page.getByTestId("party").locator(":scope > li")).toHaveCount(1);
  await expect(page.getByTestId("traveller-G2")).toContainText("Alan Turing");
  await expect(page.getByTestId("traveller-G2")).toContainText("You");
  await expect(page.getByText("You can see and change your own details here.")).toBeVisible();
  for (const other of ["Grace", "Katherine", "Edsger"]) await expect(page.getByTestId("party")).not.toContainText(other);
  await expectAccessible(page, "a traveller's own list");
  await d.press(page.getByRole("link", { name: "Fill in or change the details for Alan Turing" }));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Details for Alan Turing");
  // Another traveller's form answers like an unknown one.
  const status = await page.evaluate(async (u) => (await fetch(u)).status, `/bookings/${b.reference}/traveller-details/G1`);
  expect(status).toBe(404);
  await page.goto(`/trips/${b.reference}/travellers/G1`);
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page.getByRole("heading", { name: /Grace/ })).toHaveCount(0);
});

test("history names what changed (sensitive values only as changed), restore makes a new version, a stale save reloads", async ({
  page,
  context,
  request,
}) => {
  test.setTimeout(120_000);
  const d = new Driver(page, "pointer");
  const b = await freshBooking(request);
  await signInWithLink(d, (await operatorLink(request, b.reference)).link);
  const url = `/trips/${b.reference}/travellers/T1`;
  await page.goto(url);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Details for Ada Lovelace");
  await expect(page.getByTestId("history")).toContainText("No changes saved yet.");

  // Version 1.
  await d.fill(field(page, "legal_name.given_names"), "Augusta Ada");
  await d.fill(field(page, "legal_name.surname"), "King");
  await typeDate(d, field(page, "date_of_birth"), "1985-12-10");
  await d.fill(field(page, "emergency_contact.name"), "William King");
  await d.fill(field(page, "emergency_contact.relation"), "husband");
  await d.fill(field(page, "emergency_contact.phone"), "+44 20 7946 0958");
  await d.fill(field(page, "phone"), "+44 20 7946 0000");
  await d.press(page.getByRole("button", { name: "Save details" }));
  await expect(page.getByTestId("details-message")).toContainText("Saved.");
  await expect(page.getByTestId("version-1")).toContainText("Current version");

  // Version 2: a new phone number and date of birth.
  await d.fill(field(page, "phone"), "+44 20 7946 0999");
  await typeDate(d, field(page, "date_of_birth"), "1985-12-11");
  await d.press(page.getByRole("button", { name: "Save details" }));
  await expect(page.getByTestId("version-2")).toBeVisible();
  const v2 = page.getByTestId("version-2");
  await expect(v2).toContainText("Current version");
  await expect(v2).toContainText("by a traveller");
  await expect(v2).toContainText("phone number: +442079460000 → +442079460999");
  await expect(v2).toContainText("date of birth: changed");
  await expect(v2).not.toContainText("1985");
  // Newest first.
  await expect(page.getByTestId("history").locator("ol.versions > li").first()).toHaveAttribute("data-testid", "version-2");
  await expect(v2.getByRole("button", { name: /Restore/ })).toHaveCount(0);
  await expectAccessible(page, "details form with history");

  // Restore version 1: a new version 3, the form shows version 1's values.
  await d.press(page.getByRole("button", { name: "Restore version 1" }));
  await expect(page.getByTestId("details-message")).toHaveText(/Version 1 is restored as a new version\./);
  const v3 = page.getByTestId("version-3");
  await expect(v3).toContainText("restored from version 1");
  await expect(v3).toContainText("phone number: +442079460999 → +442079460000");
  await expect(field(page, "phone")).toHaveValue("+442079460000");
  await expect(field(page, "date_of_birth")).toHaveValue("1985-12-10");
  await page.screenshot({ path: "screenshots/traveller-details-history-en-GB.png", fullPage: true });

  // Someone else saves in another tab: this tab's save is refused (412), says so and shows the latest.
  const other = await context.newPage();
  await other.goto(url);
  await other.locator(`#${fid("emergency_contact.relation")}`).fill("spouse");
  await other.getByRole("button", { name: "Save details" }).click();
  await expect(other.getByTestId("details-message")).toContainText("Saved.");
  await other.close();
  await d.fill(field(page, "emergency_contact.name"), "W. King");
  await d.press(page.getByRole("button", { name: "Save details" }));
  const stale = page.getByTestId("details-message");
  await expect(stale).toHaveText(/Someone else saved these details while you were editing/);
  await expect(stale).toBeFocused();
  await expect(field(page, "emergency_contact.relation")).toHaveValue("spouse");
  await expect(field(page, "emergency_contact.name")).toHaveValue("William King");
  await expect(page.getByTestId("version-4")).toBeVisible();
  // Saving again now works.
  await d.fill(field(page, "emergency_contact.name"), "W. King");
  await d.press(page.getByRole("button", { name: "Save details" }));
  await expect(page.getByTestId("details-message")).toContainText("Saved.");
  await expect(page.getByTestId("version-5")).toBeVisible();
});

test("the profile from the last trip is offered, fills the form, keeps the document number; my data downloads; erasure is asked", async ({
  page,
  request,
}) => {
  test.setTimeout(120_000);
  const d = new Driver(page, "pointer");
  const first = await freshBooking(request);
  await signInWithLink(d, (await operatorLink(request, first.reference)).link);
  await page.goto(`/trips/${first.reference}/travellers/T1`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Details for Ada Lovelace");
  await d.fill(field(page, "legal_name.given_names"), "Augusta Ada");
  await d.fill(field(page, "legal_name.surname"), "King");
  await d.choose(field(page, "nationality"), "GB");
  await d.choose(field(page, "travel_document.kind"), "passport");
  await d.fill(field(page, "travel_document.number"), "PA7654321");
  await d.choose(field(page, "travel_document.issuing_country"), "GB");
  await typeDate(d, field(page, "travel_document.expiry_date"), "2034-06-30");
  await d.fill(field(page, "emergency_contact.name"), "William King");
  await d.fill(field(page, "emergency_contact.relation"), "husband");
  await d.fill(field(page, "emergency_contact.phone"), "+44 20 7946 0958");
  await d.press(page.getByRole("button", { name: "Save details" }));
  await expect(page.getByTestId("details-message")).toContainText("Saved.");

  // The same traveller (same verified email, same operator) on another booking.
  const second = await freshBooking(request, "AE-10001", (body) => {
    const ts = body.travellers as { id: string; email?: string }[];
    const ada = ts.find((x) => x.id === "T1");
    if (ada) ada.email = first.emails.T1;
  });
  await signInWithLink(d, (await operatorLink(request, second.reference)).link);
  await page.goto(`/trips/${second.reference}/travellers/T1`);
  const offer = page.getByTestId("suggestion");
  await expect(offer).toContainText("Use the details from your last trip?");
  await expect(offer).toContainText(first.reference);
  await expect(field(page, "legal_name.surname")).toHaveValue(""); // nothing copied until asked
  await expectAccessible(page, "details form with a suggestion");
  await d.press(offer.getByRole("button", { name: "Use the details from my last trip" }));
  await expect(field(page, "legal_name.surname")).toHaveValue("King");
  await expect(field(page, "travel_document.kind")).toHaveValue("passport");
  await expect(field(page, "travel_document.number")).toHaveValue("");
  await expect(page.getByText("Leave empty to use the number from your last trip (•••••321).")).toBeVisible();
  await d.press(page.getByRole("button", { name: "Save details" }));
  await expect(page.getByTestId("details-message")).toContainText("Saved.");
  await expect(page.getByText("Leave empty to keep •••••321.")).toBeVisible();

  // My data: JSON (document number masked) and PDF.
  const data = page.getByTestId("your-data");
  const json = page.waitForEvent("download");
  await d.press(data.getByRole("link", { name: "Download my data (JSON)" }));
  const jsonFile = readFileSync(await (await json).path(), "utf8");
  expect(jsonFile).toContain("•••••321");
  expect(jsonFile).not.toContain("PA7654321");
  expect(JSON.parse(jsonFile)).toHaveProperty("details");
  const pdf = page.waitForEvent("download");
  await d.press(data.getByRole("link", { name: "Download my data (PDF)" }));
  expect(readFileSync(await (await pdf).path()).subarray(0, 5).toString()).toBe("%PDF-");

  // Erasure: asked once, then its status.
  await d.fill(page.getByLabel("Message to the tour operator (optional)"), "Please erase after the trip.");
  await d.press(data.getByRole("button", { name: "Ask for erasure" }));
  await expect(page.getByTestId("erasure-status")).toHaveText(/Erasure requested on .+: submitted\./);
  await expect(data.getByRole("button", { name: "Ask for erasure" })).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("erasure-status")).toContainText("submitted");
  await expectAccessible(page, "details form with an erasure request");
});
