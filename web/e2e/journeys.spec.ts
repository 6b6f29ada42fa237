// The customer journeys, each by pointer and by keyboard only.
import { expect, test, type Page } from "@playwright/test";
import { Driver, expectAccessible, freshBooking, operatorLink, signInEmail, signInWithLink, type Mode } from "./portal";

const MODES: Mode[] = ["pointer", "keyboard"];

async function noHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "the page fits the viewport's width").toBeLessThanOrEqual(0);
}

for (const mode of MODES) {
  for (const width of [1280, 360]) {
    test(`lead: link → booking → pay the instalment → receipt → save a card → approve all → PDF → sign out (${mode}, ${width}px)`, async ({
      page,
      request,
    }) => {
      await page.setViewportSize({ width, height: width === 360 ? 780 : 900 });
      const d = new Driver(page, mode);
      const b = await freshBooking(request);
      const { link } = await operatorLink(request, b.reference);

      // The emailed link: opening it consumes nothing; the button signs in.
      await page.goto(link.replace(/^https?:\/\/[^/]+/, ""));
      await expect(page).toHaveURL(/\/sign-in$/); // the token left the address bar at once
      await expectAccessible(page, "sign-in with a link");
      await d.press(page.getByRole("button", { name: "Sign in to my booking" }));
      await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Booking ${b.reference}`);
      await expect(page.getByTestId("outstanding")).toHaveText("£2,580.50");
      await expect(page).toHaveTitle(`Booking ${b.reference} · Alpine Escapes`);
      await expect(page.getByRole("link", { name: /Approve the payment of £1,000\.00/ })).toBeVisible();
      await expect(page.getByText("Hotel Alpina Zermatt, ref. HA-2291")).toBeVisible();
      await expect(page.getByTestId("travellers")).toContainText("Charles Babbage");
      await expectAccessible(page, "booking page");
      if (width === 360) await noHorizontalScroll(page);

      // Pay the first instalment in the sandbox (the local stand-in for Stripe's Payment Element).
      await d.press(page.getByRole("link", { name: "Make a payment" }));
      await expect(page.getByRole("heading", { level: 1 })).toHaveText("Make a payment");
      await expectAccessible(page, "pay page");
      await d.press(page.getByRole("radio", { name: "Chosen payments" }));
      await expect(page.getByRole("checkbox", { name: /Instalment .* £1,000\.00/ })).toBeChecked();
      await d.press(page.getByRole("button", { name: "Continue to payment" }));
      await expect(page.getByRole("heading", { level: 1 })).toHaveText("Paying £1,000.00");
      const frame = page.frameLocator('iframe[title="Secure payment form"]');
      await expectAccessible(page, "checkout page");
      await d.press(frame.getByRole("button", { name: "Pay", exact: true }));
      await expect(page.getByTestId("pay-outcome")).toContainText("Thank you: £1,000.00 has been received.");
      await expectAccessible(page, "payment confirmation");
      await d.press(page.getByRole("link", { name: "See the receipt in your booking" }));
      await expect(page.getByTestId("outstanding")).toHaveText("£1,580.50");
      // The receipt is rendered by the document worker from the ledger: it appears within seconds.
      await expect(async () => {
        await page.reload();
        await expect(
          page.getByTestId("payments").getByRole("row", { name: /£1,000\.00/ }).getByRole("button", { name: /Receipt/ }),
        ).toBeVisible({ timeout: 1000 });
      }).toPass({ timeout: 30_000 });

      // Save a card and approve every scheduled payment.
      await d.press(page.getByRole("link", { name: "Approve scheduled payments" }));
      await expect(page.getByRole("heading", { level: 1 })).toHaveText("Scheduled payments");
      await expectAccessible(page, "schedule page");
      // Paying by card saved it already; set up another one the way a first card is saved.
      await expect(page.getByTestId("saved-card")).toHaveText("Visa ending 4242");
      await d.press(page.getByRole("button", { name: "Use another card" }));
      const cardFrame = page.frameLocator('iframe[title="Secure card form"]');
      await d.press(cardFrame.getByRole("button", { name: /Save the sandbox Visa/ }));
      await expect(page.getByTestId("schedule-message")).toHaveText("Your card is saved.");
      await expect(page.getByTestId("saved-card")).toContainText("4242");
      await d.press(page.getByRole("button", { name: "Approve all" }));
      await expect(page.getByTestId("schedule-message")).toHaveText("1 payment approved.");
      await expect(page.getByTestId("instalment-BAL")).toContainText("Approved: charged on the due date");
      await expectAccessible(page, "schedule page after approval");

      // The invoice downloads as a real PDF through its short-lived signed URL.
      await d.press(page.getByRole("link", { name: "Back to the booking" }));
      await expect(page.getByTestId("documents")).toBeVisible();
      const download = page.waitForEvent("download");
      await d.press(page.getByTestId("documents").getByRole("button", { name: /^Download Invoice/ }));
      const file = await download;
      expect(file.suggestedFilename()).toMatch(/\.pdf$/);
      const path = await file.path();
      const { readFileSync } = await import("node:fs");
      expect(readFileSync(path).subarray(0, 5).toString()).toBe("%PDF-");

      // Sign out: the booking is gone until the next sign-in.
      await d.press(page.getByRole("button", { name: "Sign out", exact: true }));
      await expect(page.getByTestId("sign-in-message")).toHaveText("You are signed out.");
      await page.goto(`/trips/${b.reference}`);
      await expect(page).toHaveURL(/\/sign-in\?expired=1/);
    });
  }

  test(`traveller: sees their own view, not the lead's (${mode})`, async ({ page, request }) => {
    const d = new Driver(page, mode);
    const b = await freshBooking(request);
    const { link } = await operatorLink(request, b.reference, "T2");
    await signInWithLink(d, link);
    await expect(page.getByTestId("travellers")).toContainText("Charles");
    await expect(page.getByText("Lead traveller")).toHaveCount(0);
    await expect(page.getByRole("link", { name: "Approve scheduled payments" })).toHaveCount(0);
    // The invoice (every traveller's name and price line) is the lead's.
    await expect(page.getByRole("button", { name: /Download Invoice/ })).toHaveCount(0);
    await expectAccessible(page, "traveller's booking page");
    await page.goto(`/trips/${b.reference}/schedule`);
    await expect(page.getByText("Only the lead traveller can approve scheduled payments.")).toBeVisible();
    await expectAccessible(page, "traveller's schedule page");
  });

  test(`sign-in by booking reference + email, reading the email from moto (${mode})`, async ({ page, request }) => {
    const d = new Driver(page, mode);
    const b = await freshBooking(request);
    await page.goto("/sign-in");
    await expectAccessible(page, "sign-in page");
    await d.fill(page.getByRole("textbox", { name: "Booking reference" }).first(), b.reference);
    await d.fill(page.getByRole("textbox", { name: "Email address" }), b.emails.T1 ?? "");
    await d.press(page.getByRole("button", { name: "Send me a link" }));
    await expect(page.getByTestId("sign-in-message")).toContainText("If that reference and email match a booking");
    // A stranger's address gets the very same answer.
    await d.fill(page.getByRole("textbox", { name: "Email address" }), "stranger@example.net");
    await d.press(page.getByRole("button", { name: "Send me a link" }));
    await expect(page.getByTestId("sign-in-message")).toContainText("If that reference and email match a booking");
    const mail = await signInEmail(request, b.emails.T1 ?? "");
    await signInWithLink(d, mail.path);
    await expect(page.getByTestId("outstanding")).toHaveText("£2,580.50");
  });

  test(`sign-in with the code from the email (${mode})`, async ({ page, request }) => {
    const d = new Driver(page, mode);
    const b = await freshBooking(request);
    const { code } = await operatorLink(request, b.reference);
    await page.goto("/sign-in");
    await d.fill(page.locator("#code-ref"), b.reference);
    await d.fill(page.getByRole("textbox", { name: "Code" }), "00000000");
    await d.press(page.getByRole("button", { name: "Sign in with code" }));
    await expect(page.getByTestId("sign-in-message")).toContainText("That sign-in did not work");
    await d.fill(page.getByRole("textbox", { name: "Code" }), code);
    await d.press(page.getByRole("button", { name: "Sign in with code" }));
    await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}$`));
    await expect(page.getByTestId("outstanding")).toBeVisible();
  });

  test(`an ended session goes back to sign-in, then to where the customer was (${mode})`, async ({ page, request }) => {
    const d = new Driver(page, mode);
    const b = await freshBooking(request);
    await signInWithLink(d, (await operatorLink(request, b.reference)).link);
    await page.goto(`/trips/${b.reference}/pay`);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Make a payment");
    // The operator revokes every session (as after a changed email): the next request answers 401.
    const { info } = await import("./portal");
    const r = await request.post(`/operator/bookings/${b.reference}/sessions/revoke`, {
      headers: { authorization: `Bearer ${info().operator_key}` },
    });
    expect(r.ok()).toBeTruthy();
    await d.press(page.getByRole("radio", { name: /The full balance/ }));
    await d.press(page.getByRole("button", { name: "Continue to payment" }));
    await expect(page).toHaveURL(/\/sign-in\?expired=1/);
    await expect(page.getByTestId("sign-in-message")).toHaveText("Your session has ended. Sign in again to continue.");
    await expectAccessible(page, "sign-in after expiry");
    await signInWithLink(d, (await operatorLink(request, b.reference)).link);
    await expect(page).toHaveURL(new RegExp(`/trips/${b.reference}/pay$`));
  });

  test(`a declined payment says so, takes nothing and can be tried again (${mode})`, async ({ page, request }) => {
    const d = new Driver(page, mode);
    const b = await freshBooking(request);
    await signInWithLink(d, (await operatorLink(request, b.reference)).link);
    await page.goto(`/trips/${b.reference}/pay`);
    await d.press(page.getByRole("button", { name: "Continue to payment" }));
    const frame = page.frameLocator('iframe[title="Secure payment form"]');
    await d.press(frame.getByRole("button", { name: "Decline" }));
    await expect(page.getByTestId("pay-outcome")).toContainText("The payment did not go through. No money was taken.");
    await expectAccessible(page, "declined payment");
    await d.press(page.getByRole("button", { name: "Try again" }));
    await expect(page.getByRole("button", { name: "Continue to payment" })).toBeVisible();
    await page.goto(`/trips/${b.reference}`);
    await expect(page.getByTestId("outstanding")).toHaveText("£2,580.50");
    await expect(page.getByTestId("payments")).toContainText("Failed payment");
  });
}

test("a double click, a reload and a second tab open one payment, not three", async ({ page, request, context }) => {
  const b = await freshBooking(request);
  await signInWithLink(new Driver(page, "pointer"), (await operatorLink(request, b.reference)).link);
  await page.goto(`/trips/${b.reference}/pay`);
  await page.getByRole("button", { name: "Continue to payment" }).dblclick();
  const src = await page.locator('iframe[title="Secure payment form"]').getAttribute("src");
  await page.reload();
  await expect(page.locator('iframe[title="Secure payment form"]')).toHaveAttribute("src", src ?? "");
  const second = await context.newPage();
  await second.goto(`/trips/${b.reference}/pay`);
  await expect(second.locator('iframe[title="Secure payment form"]')).toHaveAttribute("src", src ?? "");
});

test("my trips lists the bookings of the email, with what is due and what to do", async ({ page, request }) => {
  const b = await freshBooking(request);
  await signInWithLink(new Driver(page, "pointer"), (await operatorLink(request, b.reference)).link);
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("My trips");
  const card = page.getByTestId(`trip-${b.reference}`);
  await expect(card).toContainText("£2,580.50");
  await expect(card).toContainText("Next payment due");
  await expect(card).toContainText("Needs your attention");
  await expectAccessible(page, "my trips");
  await page.goto(`/trips/${b.reference}/no-such-page`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("This page does not exist.");
  await expectAccessible(page, "not found");
});
