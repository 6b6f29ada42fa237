// Amendment requests and messages (docs/requests.md): a date change asked by keyboard only, answered by the
// agent through the operator API (its HTML shown as text), replied to; withdrawing (and what cannot be
// withdrawn); the API's 422 next to the date field; a traveller who is not the lead; the general thread; the
// whole journey in German at 360 px. axe on every page; screenshots under web/screenshots/requests-*.png.
import { expect, test, type Locator, type Page } from "@playwright/test";
import {
  Driver,
  expectAccessible,
  freshBooking,
  inDays,
  noHorizontalScroll,
  operatorApi,
  operatorLink,
  signInWithLink,
  typeDate,
} from "./portal";

/** The id the pages give the input of an API field path (`fields.new_end` → `rq-fields-new_end`). */
const rqid = (path: string) => `rq-${path.replace(/\[(\d+)\]/g, "-$1").replace(/\./g, "-")}`;
const field = (page: Page, path: string): Locator => page.locator(`#${rqid(path)}`);

/** A date as the pages show it (Intl, long, in the page's locale). */
function longDate(iso: string, locale = "en-GB"): string {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" }).format(new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1)));
}

/** The request id of the newest request in the list (from its link). */
async function newestRequestId(page: Page): Promise<string> {
  const href = await page.getByTestId("requests").locator(":scope > li").first().getByRole("link").getAttribute("href");
  const id = /\/requests\/(rq_[a-z0-9]{20})$/.exec(href ?? "")?.[1];
  expect(id, `a request link: ${href}`).toBeTruthy();
  return id ?? "";
}

/** The page's own fetch (the session cookie): status and problem type. */
async function customerCall(page: Page, method: string, path: string, body?: unknown): Promise<{ status: number; type: string }> {
  return page.evaluate(
    async ([m, p, b]) => {
      const r = await fetch(p, {
        method: m,
        headers: { "content-type": "application/json", accept: "application/json" },
        body: b === undefined ? null : JSON.stringify(b),
      });
      const j = (await r.json().catch(() => ({}))) as { type?: string };
      return { status: r.status, type: j.type ?? "" };
    },
    [method, path, body] as const,
  );
}

test("a date change by keyboard only: sent, answered by the team (as text), replied to (en-GB)", async ({ page, request }) => {
  test.setTimeout(180_000);
  const d = new Driver(page, "keyboard");
  const b = await freshBooking(request);
  await signInWithLink(d, (await operatorLink(request, b.reference)).link);

  // From the booking to the requests.
  await expect(page.getByTestId("requests-card").getByRole("heading")).toHaveText("Requests and messages");
  await d.press(page.getByRole("link", { name: "Your requests and changes" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/requests$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Requests and messages");
  await expect(page.getByRole("heading", { level: 1 })).toBeFocused();
  await expect(page.getByTestId("no-requests")).toHaveText("You have not made any requests for this booking yet.");
  await expect(page.getByLabel(/^Also email me optional updates/)).toBeChecked();
  // Payment reminders and booking-change emails (the notifications mailer honours both) are on until turned off.
  await expect(page.getByLabel(/^Email me when my booking changes/)).toBeChecked();
  const reminders = page.getByLabel(/^Email me a reminder before a payment falls due/);
  await expect(reminders).toBeChecked();
  await d.press(reminders);
  await expect(page.getByTestId("prefs-message")).toHaveText("Saved: payment reminders are off.");
  await expect(reminders).not.toBeChecked();
  await expect(page.getByLabel(/^Email me when my booking changes/)).toBeChecked();
  await d.press(reminders);
  await expect(page.getByTestId("prefs-message")).toHaveText("Saved: payment reminders are on.");
  await expect(reminders).toBeChecked();
  await expectAccessible(page, "requests list (empty)");

  // A new date change, by keyboard: the type's radio, two dates, a message of two lines.
  await d.press(page.getByRole("link", { name: "New request" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/requests/new$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("New request");
  await expect(page.getByRole("radio")).toHaveCount(7); // the lead may ask for every type
  await expectAccessible(page, "new request form");
  await d.press(page.getByRole("radio", { name: "Date change" }));
  await expect(page.getByRole("radio", { name: "Date change" })).toBeChecked();
  const start = inDays(130);
  const end = inDays(137);
  await expect(field(page, "fields.new_start")).toHaveAttribute("min", /^\d{4}-\d{2}-\d{2}$/);
  await typeDate(d, field(page, "fields.new_start"), start);
  await typeDate(d, field(page, "fields.new_end"), end);
  const message = "We would like to travel a little later.\nThank you!";
  await d.fill(page.getByLabel("Your message (optional)"), message);
  await expect(page.getByTestId("char-count")).toHaveText(`${[...message].length} of 4,000 characters`);
  await expectAccessible(page, "new request form, filled");
  await page.screenshot({ path: "screenshots/requests-new-en-GB.png", fullPage: true });
  await d.press(page.getByRole("button", { name: "Send request" }));

  // Listed as submitted, with what was asked in words; the confirmation is announced and has the focus.
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/requests$`));
  const sent = page.getByTestId("requests-message");
  await expect(sent).toContainText("Request sent. Handled by: Reservations team.");
  await expect(sent).toBeFocused();
  await expect(sent).toHaveAttribute("role", "status");
  const card = page.getByTestId("requests").locator(":scope > li");
  await expect(card).toHaveCount(1);
  await expect(card.getByTestId("request-status")).toHaveText("Submitted");
  await expect(card).toContainText(`New dates: ${longDate(start)} – ${longDate(end)}`);
  await expect(card).toContainText("by Ada Lovelace");
  await expect(card).toContainText("1 message");
  await expectAccessible(page, "requests list");
  await page.screenshot({ path: "screenshots/requests-list-en-GB.png", fullPage: true });
  const id = await newestRequestId(page);

  await d.press(sent.getByRole("link", { name: "See the request" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/requests/${id}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Date change");
  await expect(page.getByTestId("request-status")).toHaveText("Submitted");
  await expect(page.getByTestId("request-summary")).toHaveText(`New dates: ${longDate(start)} – ${longDate(end)}`);
  const messages = page.getByTestId("conversation").getByTestId("message");
  await expect(messages).toHaveCount(1);
  await expect(messages.first().getByTestId("message-author")).toHaveText("You");
  expect(await messages.first().getByTestId("message-body").evaluate((el) => el.textContent)).toBe(message);

  // The agent answers through the operator API, with markup in the text, and asks the customer.
  const body = "<b>Hello</b> we can move you to 2 May";
  const answer = await operatorApi(request, "POST", `/operator/bookings/${b.reference}/requests/${id}/messages`, {
    role: "reservations",
    body,
    status: "waiting_for_customer",
    agent: "agent-007",
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  expect(answer.body.status).toBe("waiting_for_customer");

  await page.reload();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Date change");
  await expect(page.getByTestId("request-status")).toHaveText("Waiting for you");
  await expect(page.getByTestId("waiting")).toHaveText("The team is waiting for your answer. Reply below.");
  await expect(messages).toHaveCount(2);
  const reply = messages.nth(1);
  await expect(reply.getByTestId("message-author")).toHaveText("Reservations team");
  await expect(reply.getByTestId("message-body")).toHaveText(body); // the markup as text
  await expect(page.getByTestId("conversation").locator("b")).toHaveCount(0);
  await expect(page.getByTestId("conversation")).not.toContainText("agent-007"); // the agent stays the operator's
  await expect(page.getByTestId("status-history")).toContainText("Waiting for you");
  await expectAccessible(page, "request waiting for the customer");
  await page.screenshot({ path: "screenshots/requests-detail-en-GB.png", fullPage: true });

  // The customer replies by keyboard: the request goes back to review (by the portal).
  const text = "Yes please,\nmove us to 2 May.";
  await d.fill(page.getByLabel("Your reply"), text);
  await d.press(page.getByRole("button", { name: "Send reply" }));
  const said = page.getByTestId("reply-message");
  await expect(said).toHaveText("Message sent.");
  await expect(said).toBeFocused();
  await expect(page.getByTestId("request-status")).toHaveText("In review");
  await expect(page.getByTestId("waiting")).toHaveCount(0);
  await expect(messages).toHaveCount(3);
  const mine = messages.nth(2).getByTestId("message-body");
  expect(await mine.evaluate((el) => el.textContent)).toBe(text);
  await expect(mine).toHaveCSS("white-space", "pre-wrap");
  await expect(page.getByLabel("Your reply")).toHaveValue("");
  await expect(page.getByTestId("status-history").locator("li")).toHaveText([/^Submitted: .+, Ada Lovelace$/, /^Waiting for you: /, /^In review: .+, automatically$/]);
  await expectAccessible(page, "request after the reply");

  // The operator's view has the whole conversation, with the agent.
  const op = await operatorApi(request, "GET", `/operator/bookings/${b.reference}/requests/${id}`);
  expect(op.status).toBe(200);
  const opMessages = op.body.messages as { author: { kind: string; agent?: string | null }; body: string }[];
  expect(opMessages.map((m) => m.author.kind)).toEqual(["customer", "team", "customer"]);
  expect(opMessages[1]?.author.agent).toBe("agent-007");

  await d.press(page.getByRole("link", { name: "Back to your requests" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/requests$`));
  await expect(page.getByTestId(`request-${id}`).getByTestId("request-status")).toHaveText("In review");
  await expect(page.getByTestId(`request-${id}`)).toContainText("3 messages");
});

test("withdrawing a request after a confirmation; an accepted one cannot be, a closed one takes no message", async ({ page, request }) => {
  test.setTimeout(120_000);
  const d = new Driver(page, "pointer");
  const b = await freshBooking(request);
  await signInWithLink(d, (await operatorLink(request, b.reference)).link);
  await page.goto(`/trips/${b.reference}/requests/new`);
  await d.press(page.getByRole("radio", { name: "Something else" }));
  await d.fill(page.getByLabel("Your message (required)"), "Can we bring our dog?");
  await d.press(page.getByRole("button", { name: "Send request" }));
  await expect(page.getByTestId("requests-message")).toBeVisible();
  const id = await newestRequestId(page);
  await d.press(page.getByTestId("requests-message").getByRole("link", { name: "See the request" }));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Something else");

  // Asking first; "Keep the request" changes nothing and gives the focus back.
  const withdraw = page.getByTestId("withdraw");
  await d.press(withdraw.getByRole("button", { name: "Withdraw request" }));
  await expect(page.getByTestId("withdraw-confirm")).toBeFocused();
  await expect(page.getByTestId("withdraw-confirm")).toHaveText("Withdraw this request? This cannot be undone.");
  await expectAccessible(page, "withdraw confirmation");
  await d.press(withdraw.getByRole("button", { name: "Keep the request" }));
  await expect(withdraw.getByRole("button", { name: "Withdraw request" })).toBeFocused();
  await expect(page.getByTestId("request-status")).toHaveText("Submitted");

  await d.press(withdraw.getByRole("button", { name: "Withdraw request" }));
  await d.fill(page.getByLabel("Why (optional)"), "We found a dog sitter.");
  await d.press(withdraw.getByRole("button", { name: "Yes, withdraw it" }));
  const notice = page.getByTestId("request-notice");
  await expect(notice).toHaveText("Your request is withdrawn.");
  await expect(notice).toBeFocused();
  await expect(page.getByTestId("request-status")).toHaveText("Withdrawn");
  await expect(page.getByTestId("withdraw")).toHaveCount(0);
  await expect(page.getByLabel("Your reply")).toHaveCount(0);
  await expect(page.getByTestId("status-history").locator("li").last()).toHaveText(/^Withdrawn: .+, Ada Lovelace$/);
  await expectAccessible(page, "withdrawn request");
  await page.screenshot({ path: "screenshots/requests-withdrawn-en-GB.png", fullPage: true });
  await page.reload();
  await expect(page.getByTestId("request-status")).toHaveText("Withdrawn");
  // A closed request takes no customer message.
  expect(await customerCall(page, "POST", `/bookings/${b.reference}/requests/${id}/messages`, { body: "One more thing" })).toEqual({
    status: 409,
    type: "/problems/request-closed",
  });

  // Another request, accepted by the team: no withdrawing any more (the page offers none; the API says 409).
  await page.goto(`/trips/${b.reference}/requests/new`);
  await d.press(page.getByRole("radio", { name: "Special assistance" }));
  await d.choose(field(page, "fields.traveller_id"), "T2");
  await d.choose(field(page, "fields.kind"), "mobility");
  await d.fill(page.getByLabel("Your message (required)"), "Charles needs a wheelchair at the airport.");
  await d.press(page.getByRole("button", { name: "Send request" }));
  await expect(page.getByTestId("requests-message")).toBeVisible();
  const second = await newestRequestId(page);
  await expect(page.getByTestId(`request-${second}`)).toContainText("Special assistance for Charles Babbage: Mobility");
  const accepted = await operatorApi(request, "POST", `/operator/bookings/${b.reference}/requests/${second}/status`, {
    status: "accepted",
    message: "Booked with the airport.",
  });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  await page.goto(`/trips/${b.reference}/requests/${second}`);
  await expect(page.getByTestId("request-status")).toHaveText("Accepted");
  await expect(page.getByTestId("withdraw")).toHaveCount(0);
  await expect(page.getByTestId("conversation")).toContainText("Booked with the airport.");
  expect(await customerCall(page, "POST", `/bookings/${b.reference}/requests/${second}/withdraw`, {})).toEqual({
    status: 409,
    type: "/problems/illegal-transition",
  });
  await expectAccessible(page, "accepted request");
});

test("the API's 422 next to the date field (end before start), then a message too long, then sent", async ({ page, request }) => {
  test.setTimeout(120_000);
  const d = new Driver(page, "pointer");
  const b = await freshBooking(request);
  await signInWithLink(d, (await operatorLink(request, b.reference)).link);
  await page.goto(`/trips/${b.reference}/requests/new`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("New request");

  // No type chosen: said at once, without asking the API.
  await d.press(page.getByRole("button", { name: "Send request" }));
  const summary = page.getByTestId("error-summary");
  await expect(summary).toBeFocused();
  await expect(summary).toContainText("What would you like to ask for?: Choose what you would like to ask for.");

  await d.press(page.getByRole("radio", { name: "Date change" }));
  await typeDate(d, field(page, "fields.new_start"), inDays(140));
  await typeDate(d, field(page, "fields.new_end"), inDays(135));
  await d.press(page.getByRole("button", { name: "Send request" }));
  await expect(summary).toBeFocused();
  await expect(summary.getByRole("heading")).toHaveText("There is 1 problem with the request");
  const endError = page.locator(`#${rqid("fields.new_end")}-error`);
  await expect(endError).toHaveText("The new end date must be on or after the new start date.");
  await expect(field(page, "fields.new_end")).toHaveAttribute("aria-invalid", "true");
  await expect(field(page, "fields.new_end")).toHaveAttribute("aria-describedby", new RegExp(`${rqid("fields.new_end")}-error`));
  await expect(field(page, "fields.new_start")).not.toHaveAttribute("aria-invalid", "true");
  await expect(page.locator(".field.invalid").filter({ has: field(page, "fields.new_end") })).toContainText("on or after the new start date");
  await expectAccessible(page, "new request with errors");
  await page.screenshot({ path: "screenshots/requests-errors-en-GB.png", fullPage: true });
  // The summary's link takes the focus to the field.
  await d.press(summary.getByRole("link", { name: /^New end date: / }));
  await expect(field(page, "fields.new_end")).toBeFocused();

  // Fixed; now a message over 4000 characters: counted as too long while typing, refused by the API.
  await typeDate(d, field(page, "fields.new_end"), inDays(145));
  await d.fill(page.getByLabel("Your message (optional)"), "x".repeat(4001));
  await expect(page.getByTestId("char-count")).toHaveText("1 character too many");
  await d.press(page.getByRole("button", { name: "Send request" }));
  await expect(summary.getByRole("heading")).toHaveText("There is 1 problem with the request");
  await expect(page.locator(`#${rqid("message")}-error`)).toHaveText("This is too long: at most 4000 characters.");
  await expect(field(page, "fields.new_end")).not.toHaveAttribute("aria-invalid", "true");
  await expect(field(page, "message")).toHaveAttribute("aria-invalid", "true");

  await d.fill(page.getByLabel("Your message (optional)"), "Ten days later, please.");
  await d.press(page.getByRole("button", { name: "Send request" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/requests$`));
  await expect(page.getByTestId("requests").locator(":scope > li")).toHaveCount(1);
  await expect(page.getByTestId("requests").getByTestId("request-status")).toHaveText("Submitted");
  await expect(page.getByTestId("requests")).toContainText(`New dates: ${longDate(inDays(140))} – ${longDate(inDays(145))}`);
});

test("a traveller who is not the lead: no booking-wide types, only their own requests", async ({ browser, page, request }) => {
  test.setTimeout(120_000);
  const b = await freshBooking(request);
  // The lead asks something first (a request Charles must not see).
  const lead = await browser.newContext();
  const leadPage = await lead.newPage();
  await signInWithLink(new Driver(leadPage, "pointer"), (await operatorLink(request, b.reference)).link);
  const leads = await leadPage.evaluate(async (ref) => {
    const r = await fetch(`/bookings/${ref}/requests`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "lead-request-0001" },
      body: JSON.stringify({ type: "other", fields: {}, message: "A surprise for Charles" }),
    });
    return { status: r.status, id: ((await r.json()) as { request_id: string }).request_id };
  }, b.reference);
  expect(leads.status).toBe(201);

  const d = new Driver(page, "pointer");
  await signInWithLink(d, (await operatorLink(request, b.reference, "T2")).link);
  await page.goto(`/trips/${b.reference}/requests`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Requests and messages");
  await expect(page.getByText("You see the requests you made. The lead traveller sees every request on this booking.")).toBeVisible();
  await expect(page.getByTestId("no-requests")).toBeVisible();
  await expect(page.locator("main")).not.toContainText("A surprise");
  expect((await customerCall(page, "GET", `/bookings/${b.reference}/requests/${leads.id}`)).status).toBe(404);

  await d.press(page.getByRole("link", { name: "New request" }));
  await expect(page.getByTestId("lead-only-note")).toHaveText(
    "Some changes, such as new dates or an extra traveller, can only be asked for by the lead traveller.",
  );
  await expect(page.getByRole("radio", { name: "Date change" })).toHaveCount(0);
  await expect(page.getByRole("radio", { name: "Add a traveller" })).toHaveCount(0);
  await expect(page.getByRole("radio", { name: "Something else" })).toBeVisible();
  await expect(page.getByRole("radio", { name: "Special assistance" })).toBeVisible();
  await expectAccessible(page, "new request form of a traveller");
  await page.screenshot({ path: "screenshots/requests-new-traveller-en-GB.png", fullPage: true });
  // Asked anyway, through the API: forbidden.
  expect(
    await customerCall(page, "POST", `/bookings/${b.reference}/requests`, { type: "date_change", fields: { new_start: inDays(130), new_end: inDays(137) } }),
  ).toEqual({ status: 403, type: "/problems/forbidden" });

  // Assistance for himself: the only traveller offered, already chosen.
  await d.press(page.getByRole("radio", { name: "Special assistance" }));
  await expect(field(page, "fields.traveller_id").locator("option")).toHaveText(["Charles Babbage"]);
  await d.choose(field(page, "fields.kind"), "dietary");
  await d.fill(page.getByLabel("Your message (required)"), "Vegetarian meals, please.");
  await d.press(page.getByRole("button", { name: "Send request" }));
  await expect(page.getByTestId("requests-message")).toContainText("Request sent.");
  await expect(page.getByTestId("requests").locator(":scope > li")).toHaveCount(1);
  await expect(page.getByTestId("requests")).toContainText("Special assistance for Charles Babbage: Diet");
  await expect(page.getByTestId("requests")).toContainText("by Charles Babbage");
  await expectAccessible(page, "a traveller's requests");

  // The lead sees both.
  await leadPage.goto(`/trips/${b.reference}/requests`);
  await expect(leadPage.getByTestId("requests").locator(":scope > li")).toHaveCount(2);
  await expect(leadPage.getByTestId("requests").locator(":scope > li").first()).toContainText("by Charles Babbage"); // newest first
  await lead.close();
});

test("the general thread: write to the accounts team, the team answers, everyone on the booking sees it (360 px)", async ({
  browser,
  page,
  request,
}) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 360, height: 780 });
  const d = new Driver(page, "keyboard");
  const b = await freshBooking(request);
  await signInWithLink(d, (await operatorLink(request, b.reference)).link);
  await d.press(page.getByRole("link", { name: "Message the team", exact: true }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/messages$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Message the team");
  await expect(page.getByTestId("no-messages")).toBeVisible();
  expect(await field(page, "role").locator("option").allTextContents()).toEqual(expect.arrayContaining(["Reservations team", "Accounts team"]));
  await expectAccessible(page, "general thread (empty)");
  await noHorizontalScroll(page);

  await d.choose(field(page, "role"), "accounts");
  await expect(field(page, "role")).toHaveValue("accounts");
  await d.fill(page.getByLabel("Your message"), "Can I pay the balance by bank transfer?\nReference AE please.");
  await d.press(page.getByRole("button", { name: "Send message" }));
  const said = page.getByTestId("thread-message");
  await expect(said).toHaveText("Message sent. To: Accounts team.");
  await expect(said).toBeFocused();
  const messages = page.getByTestId("conversation").getByTestId("message");
  await expect(messages).toHaveCount(1);
  await expect(messages.first()).toContainText("You · To: Accounts team");
  await expect(page.getByLabel("Your message")).toHaveValue("");

  // The accounts team answers (operator API); the lead sees it, and so does another traveller who signs in.
  const answer = await operatorApi(request, "POST", `/operator/bookings/${b.reference}/messages`, {
    role: "accounts",
    body: "Yes: the details are on your invoice.\n<script>alert(1)</script>",
    agent: "acc-1",
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  await page.reload();
  await expect(messages).toHaveCount(2);
  await expect(messages.nth(1).getByTestId("message-author")).toHaveText("Accounts team");
  expect(await messages.nth(1).getByTestId("message-body").evaluate((el) => el.textContent)).toBe(
    "Yes: the details are on your invoice.\n<script>alert(1)</script>",
  );
  await expect(page.getByTestId("conversation").locator("script")).toHaveCount(0);
  await expectAccessible(page, "general thread");
  await noHorizontalScroll(page);
  await page.screenshot({ path: "screenshots/requests-messages-360-en-GB.png", fullPage: true });
  const op = await operatorApi(request, "GET", `/operator/bookings/${b.reference}/requests`);
  expect(op.status).toBe(200);
  expect(((op.body.general as { messages: unknown[] }).messages ?? []).length).toBe(2);

  const other = await browser.newContext({ viewport: { width: 360, height: 780 } });
  const charles = await other.newPage();
  await signInWithLink(new Driver(charles, "pointer"), (await operatorLink(request, b.reference, "T2")).link);
  await charles.goto(`/trips/${b.reference}/messages`);
  const seen = charles.getByTestId("conversation").getByTestId("message");
  await expect(seen).toHaveCount(2);
  await expect(seen.first().getByTestId("message-author")).toHaveText("Ada Lovelace");
  await expect(seen.nth(1).getByTestId("message-author")).toHaveText("Accounts team");
  await other.close();

  // The list of requests fits at 360 px too.
  await page.goto(`/trips/${b.reference}/requests`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Requests and messages");
  await noHorizontalScroll(page);
});

test("in German at 360 px: a request for special assistance, the API's 422 in German, sent and shown (de-DE)", async ({ browser, request }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext({ locale: "de-DE", timezoneId: "Europe/Berlin", viewport: { width: 360, height: 780 } });
  const page = await context.newPage();
  const d = new Driver(page, "keyboard");
  const b = await freshBooking(request);
  await page.goto((await operatorLink(request, b.reference)).link.replace(/^https?:\/\/[^/]+/, ""));
  await d.press(page.getByRole("button", { name: "Bei meiner Buchung anmelden" }));
  await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
  await expect(page.locator("html")).toHaveAttribute("lang", "de-DE");

  await d.press(page.getByRole("link", { name: "Ihre Anfragen und Änderungswünsche" }));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Anfragen und Nachrichten");
  await expect(page.getByTestId("no-requests")).toHaveText("Sie haben zu dieser Buchung noch keine Anfragen gestellt.");
  await expectAccessible(page, "German requests list");
  await noHorizontalScroll(page);

  await d.press(page.getByRole("link", { name: "Neue Anfrage" }));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Neue Anfrage");
  await d.press(page.getByRole("radio", { name: "Besondere Unterstützung" }));
  await d.choose(field(page, "fields.traveller_id"), "T1");
  await d.choose(field(page, "fields.kind"), "dietary");
  // No message: the API's 422 names it, said in German next to the field.
  await d.press(page.getByRole("button", { name: "Anfrage senden" }));
  const summary = page.getByTestId("error-summary");
  await expect(summary).toBeFocused();
  await expect(summary.getByRole("heading")).toHaveText("Die Anfrage enthält 1 Fehler");
  await expect(page.locator(`#${rqid("message")}-error`)).toHaveText("Diese Anfrage braucht eine Nachricht: Schreiben Sie, was Sie möchten.");
  await expect(field(page, "message")).toHaveAttribute("aria-invalid", "true");
  await expectAccessible(page, "German new request with errors");
  await noHorizontalScroll(page);
  await page.screenshot({ path: "screenshots/requests-errors-de-DE.png", fullPage: true });

  await d.fill(page.getByLabel("Ihre Nachricht (Pflichtangabe)"), "Bitte vegetarisches Essen für Ada.");
  await expect(page.getByTestId("char-count")).toHaveText("34 von 4.000 Zeichen");
  await d.press(page.getByRole("button", { name: "Anfrage senden" }));
  await expect(page.getByTestId("requests-message")).toContainText(/^Anfrage gesendet\. Zuständig: .+\./);
  await expect(page.getByTestId("requests").getByTestId("request-status")).toHaveText("Eingereicht");
  await expect(page.getByTestId("requests")).toContainText("Besondere Unterstützung für Ada Lovelace: Ernährung");
  await expectAccessible(page, "German requests list with a request");
  await noHorizontalScroll(page);
  const id = await newestRequestId(page);

  const answer = await operatorApi(request, "POST", `/operator/bookings/${b.reference}/requests/${id}/messages`, {
    role: "reservations",
    body: "Gern. Gibt es Allergien?",
    status: "waiting_for_customer",
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  await d.press(page.getByTestId("requests-message").getByRole("link", { name: "Anfrage ansehen" }));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Besondere Unterstützung");
  await expect(page.getByTestId("request-status")).toHaveText("Wartet auf Sie");
  await expect(page.getByTestId("conversation").getByTestId("message").first().getByTestId("message-author")).toHaveText("Sie");
  await d.fill(page.getByLabel("Ihre Antwort"), "Nein, keine Allergien.");
  await d.press(page.getByRole("button", { name: "Antwort senden" }));
  await expect(page.getByTestId("reply-message")).toHaveText("Nachricht gesendet.");
  await expect(page.getByTestId("request-status")).toHaveText("In Bearbeitung");
  await expect(page.getByTestId("status-history")).toContainText("In Bearbeitung");
  await expect(page.getByTestId("status-history")).toContainText("automatisch");
  await expectAccessible(page, "German request");
  await noHorizontalScroll(page);
  await page.screenshot({ path: "screenshots/requests-detail-de-DE.png", fullPage: true });
  const text = await page.locator("main").innerText();
  for (const english of ["Submitted", "In review", "Waiting for you", "Conversation", "Send reply", "Your reply", "Withdraw", "Progress", "What you asked for", "Back to"]) {
    expect(text, `untranslated: ${english}`).not.toContain(english);
  }
  await context.close();
});
