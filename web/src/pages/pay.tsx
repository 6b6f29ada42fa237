// Paying: choose what (due now, the balance, chosen payments, my share, another amount) and how (card, Pay by
// Bank), then the gateway's embedded form (Stripe's Payment Element; locally the sandbox page in a frame).
// The outcome shown follows the ledger (the booking as the webhook recorded it), never the browser's word.
// The Idempotency-Key lives with the form in localStorage: a double click, a reload or a second tab sends the
// same key and gets the same checkout back (and the API keeps one open payment per debt regardless).
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, type CheckoutRequest, type CheckoutResponse, type Overview } from "../api/client";
import { newKey, useApp, useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading, errorText } from "../components";
import { useI18n } from "../i18n";
import { appearance, loadStripe, type StripeJs } from "../stripe";
import { isZero, useOverview } from "./booking";
import { kindName } from "./parts";

type Choice = CheckoutRequest["pay"];
type Method = CheckoutRequest["method"];
type Outcome = "waiting" | "processing" | "succeeded" | "failed" | "slow";

interface Pending {
  fingerprint: string;
  key: string;
  at: number;
}
const storeKey = (ref: string) => `portal.pay.${ref}`;
const KEY_LIFETIME_MS = 60 * 60 * 1000;

function loadPending(ref: string): Pending | null {
  try {
    const p = JSON.parse(localStorage.getItem(storeKey(ref)) ?? "null") as Pending | null;
    return p && Date.now() - p.at < KEY_LIFETIME_MS ? p : null;
  } catch {
    return null;
  }
}
function savePending(ref: string, p: Pending | null): void {
  try {
    if (p) localStorage.setItem(storeKey(ref), JSON.stringify(p));
    else localStorage.removeItem(storeKey(ref));
  } catch {
    /* the API's one-open-payment-per-debt rule still holds */
  }
}

/** The same request always gets the same key (until an outcome clears it). */
export function keyFor(ref: string, req: CheckoutRequest): string {
  const fingerprint = JSON.stringify(req);
  const p = loadPending(ref);
  if (p && p.fingerprint === fingerprint) return p.key;
  const key = newKey();
  savePending(ref, { fingerprint, key, at: Date.now() });
  return key;
}

export function PayPage({ reference, params }: { reference: string; params: URLSearchParams }) {
  const { t } = useI18n();
  useTitle(t("pay.title"));
  const [data, reload] = useOverview(reference);
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  return <PayForm o={data.data} preselect={params.get("instalment")} refresh={() => reload(true)} />;
}

function PayForm({ o, preselect, refresh }: { o: Overview; preselect: string | null; refresh: () => Promise<Overview | undefined> }) {
  const { t } = useI18n();
  const open = o.instalments.filter((r) => !isZero(r.remaining.amount) && r.status !== "cancelled" && r.status !== "processing");
  const myShare = o.money.traveller_shares.find((s) => s.traveller_id === o.viewer.traveller_id);
  const [choice, setChoice] = useState<Choice>(
    preselect ? "instalments" : !isZero(o.money.due_now.amount) ? "due_now" : "balance",
  );
  const [chosen, setChosen] = useState<string[]>(preselect ? [preselect] : open.slice(0, 1).map((r) => r.id));
  const [custom, setCustom] = useState("");
  const [method, setMethod] = useState<Method>("card");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [checkout, setCheckout] = useState<CheckoutResponse | null>(null);
  const [before, setBefore] = useState<Set<string>>(new Set());
  const base = `/trips/${encodeURIComponent(o.reference)}`;

  // A checkout still open from a reload or another tab: show it again (same key, same answer).
  useEffect(() => {
    const p = loadPending(o.reference);
    if (p) {
      try {
        void start(JSON.parse(p.fingerprint) as CheckoutRequest);
      } catch {
        savePending(o.reference, null);
      }
    }
  }, []);

  if (isZero(o.money.outstanding.amount) && !checkout) {
    return (
      <div class="narrow">
        <PageHeading>{t("pay.title")}</PageHeading>
        <p>{t("pay.nothing")}</p>
        <p>
          <a href={base}>{t("app.backToBooking")}</a>
        </p>
      </div>
    );
  }

  function request(): CheckoutRequest | null {
    switch (choice) {
      case "instalments":
        if (chosen.length === 0) {
          setError(t("pay.chooseInstalment"));
          return null;
        }
        return { pay: "instalments", method, instalment_ids: chosen };
      case "traveller_share":
        return { pay: "traveller_share", method, traveller_id: o.viewer.traveller_id };
      case "custom":
        return { pay: "custom", method, amount: { amount: custom.trim().replace(",", "."), currency: o.currency } };
      default:
        return { pay: choice, method };
    }
  }

  async function start(req: CheckoutRequest) {
    setBusy(true);
    setError(null);
    setBefore(new Set(o.payments.map((p) => p.id)));
    try {
      const c = await api.createPayment(o.reference, req, keyFor(o.reference, req));
      setCheckout(c);
    } catch (e) {
      // A refused request will be refused again: forget its key so a corrected form gets a fresh one.
      if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 409) savePending(o.reference, null);
      setError(errorText(e, t));
    } finally {
      setBusy(false);
    }
  }

  if (checkout) {
    return (
      <Checkout
        o={o}
        checkout={checkout}
        before={before}
        refresh={refresh}
        done={() => savePending(o.reference, null)}
        again={() => {
          savePending(o.reference, null);
          setCheckout(null);
        }}
      />
    );
  }

  return (
    <div class="narrow">
      <PageHeading>{t("pay.title")}</PageHeading>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (busy) return;
          const req = request();
          if (req) void start(req);
        }}
      >
        <fieldset>
          <legend>{t("pay.what")}</legend>
          {!isZero(o.money.due_now.amount) && (
            <Radio name="pay" value="due_now" checked={choice === "due_now"} onChange={setChoice}>
              {t("pay.dueNow", { amount: o.money.due_now.display })}
            </Radio>
          )}
          <Radio name="pay" value="balance" checked={choice === "balance"} onChange={setChoice}>
            {t("pay.balance", { amount: o.money.outstanding.display })}
          </Radio>
          {open.length > 0 && (
            <Radio name="pay" value="instalments" checked={choice === "instalments"} onChange={setChoice}>
              {t("pay.instalments")}
            </Radio>
          )}
          {choice === "instalments" && (
            <fieldset class="nested">
              <legend class="visually-hidden">{t("pay.instalments")}</legend>
              {open.map((r) => (
                <label key={r.id} class="check">
                  <input
                    type="checkbox"
                    name="instalment"
                    value={r.id}
                    checked={chosen.includes(r.id)}
                    onChange={(e) =>
                      setChosen((c) => (e.currentTarget.checked ? [...c, r.id] : c.filter((x) => x !== r.id)))
                    }
                  />
                  {kindName(r.kind, t)} · {r.due_date.display} · {r.remaining.display}
                </label>
              ))}
            </fieldset>
          )}
          {myShare && !isZero(myShare.outstanding.amount) && o.money.traveller_shares.length > 1 && (
            <Radio name="pay" value="traveller_share" checked={choice === "traveller_share"} onChange={setChoice}>
              {t("pay.share", { amount: myShare.outstanding.display })}
            </Radio>
          )}
          <Radio name="pay" value="custom" checked={choice === "custom"} onChange={setChoice}>
            {t("pay.custom")}
          </Radio>
          {choice === "custom" && (
            <div class="nested">
              <label for="custom-amount">{t("pay.customAmount", { currency: o.currency })}</label>
              <input
                id="custom-amount"
                inputMode="decimal"
                required
                pattern="[0-9]+([.,][0-9]{1,3})?"
                aria-describedby="custom-hint"
                value={custom}
                onInput={(e) => setCustom(e.currentTarget.value)}
              />
              <p id="custom-hint" class="muted">
                {t("pay.customHint")}
              </p>
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>{t("pay.method")}</legend>
          <Radio name="method" value="card" checked={method === "card"} onChange={setMethod}>
            {t("pay.card")}
          </Radio>
          <Radio name="method" value="open_banking" checked={method === "open_banking"} onChange={setMethod}>
            {t("pay.bank")}
          </Radio>
        </fieldset>
        {error && <Notice kind="error" focus>{error}</Notice>}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("pay.preparing") : t("pay.continue")}
        </button>
      </form>
      <p>
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}

function Radio<V extends string>(props: {
  name: string;
  value: V;
  checked: boolean;
  onChange: (v: V) => void;
  children: preact.ComponentChildren;
}) {
  return (
    <label class="check">
      <input type="radio" name={props.name} value={props.value} checked={props.checked} onChange={() => props.onChange(props.value)} />
      {props.children}
    </label>
  );
}

/** The embedded form, then the outcome as the booking's ledger records it. */
function Checkout(props: {
  o: Overview;
  checkout: CheckoutResponse;
  before: Set<string>;
  refresh: () => Promise<Overview | undefined>;
  done: () => void;
  again: () => void;
}) {
  const { t, locale } = useI18n();
  const { brand } = useApp();
  const { checkout, o } = props;
  const [outcome, setOutcome] = useState<Outcome>("waiting");
  const [stripeError, setStripeError] = useState<string | null>(null);
  const mount = useRef<HTMLDivElement>(null);
  const stripe = useRef<{ js: StripeJs; elements: ReturnType<StripeJs["elements"]> } | null>(null);
  const loads = useRef(0);
  const base = `/trips/${encodeURIComponent(o.reference)}`;

  // Follow the ledger: poll the booking until a payment this checkout made shows up, succeeded or failed.
  useEffect(() => {
    let stop = false;
    const started = Date.now();
    const tick = async () => {
      if (stop) return;
      const fresh = await props.refresh();
      const mine = fresh?.payments.filter((p) => !props.before.has(p.id)) ?? [];
      if (mine.some((p) => p.kind === "payment" && p.status === "succeeded")) {
        setOutcome("succeeded");
        props.done();
        return;
      }
      if (mine.some((p) => p.kind === "failed_payment")) {
        setOutcome("failed");
        props.done();
        return;
      }
      const processing = fresh?.instalments.some((r) => checkout.instalment_ids.includes(r.id) && r.status === "processing");
      if (processing) setOutcome((s) => (s === "waiting" ? "processing" : s));
      if (Date.now() - started > 10 * 60 * 1000) {
        setOutcome("slow");
        return;
      }
      setTimeout(() => void tick(), 1500);
    };
    const first = setTimeout(() => void tick(), 1500);
    return () => {
      stop = true;
      clearTimeout(first);
    };
  }, [checkout.checkout_id]);

  // Stripe: mount the Payment Element with the intent's client secret.
  useEffect(() => {
    if (checkout.gateway !== "stripe") return;
    const key = brand.stripe_publishable_key;
    if (!key) {
      setStripeError(t("pay.stripeUnavailable"));
      return;
    }
    let element: { destroy(): void } | null = null;
    loadStripe(key)
      .then((js) => {
        const elements = js.elements({ clientSecret: checkout.client_secret, locale, appearance: appearance(brand.primary_colour) });
        const el = elements.create("payment");
        if (mount.current) el.mount(mount.current);
        element = el;
        stripe.current = { js, elements };
      })
      .catch(() => setStripeError(t("pay.stripeUnavailable")));
    return () => element?.destroy();
  }, [checkout.client_secret]);

  const confirmStripe = async () => {
    if (!stripe.current) return;
    setOutcome("processing");
    const r = await stripe.current.js.confirmPayment({
      elements: stripe.current.elements,
      redirect: "if_required",
      confirmParams: { return_url: `${location.origin}${base}/pay` },
    });
    if (r.error) {
      setStripeError(r.error.message ?? t("pay.failed"));
      setOutcome("waiting");
    }
  };

  const final = outcome === "succeeded" || outcome === "failed";
  return (
    <div class="narrow">
      <PageHeading>{t("pay.checkoutFor", { amount: checkout.amount.display })}</PageHeading>
      {!final && (
        <>
          <p class="muted">{t("pay.expires", { time: new Date(checkout.expires_at).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" }) })}</p>
          {checkout.gateway === "sandbox" && checkout.checkout_url ? (
            <iframe
              class="checkout-frame"
              title={t("pay.checkoutFrameTitle")}
              src={checkout.checkout_url}
              onLoad={() => {
                loads.current += 1;
                if (loads.current > 1) setOutcome((s) => (s === "waiting" ? "processing" : s));
              }}
            />
          ) : (
            <>
              <div ref={mount} class="stripe-element" />
              {stripeError && <Notice kind="error">{stripeError}</Notice>}
              <button type="button" class="primary" disabled={outcome === "processing"} onClick={() => void confirmStripe()}>
                {t("pay.confirm", { amount: checkout.amount.display })}
              </button>
            </>
          )}
        </>
      )}
      <div aria-live="polite" data-testid="pay-outcome">
        {outcome === "processing" && <Notice>{t("pay.processing")}</Notice>}
        {outcome === "slow" && <Notice>{t("pay.slow")}</Notice>}
        {outcome === "succeeded" && (
          <Notice kind="success" focus>
            <p>{t("pay.succeeded", { amount: checkout.amount.display })}</p>
            <p>
              <a href={base}>{t("pay.viewReceipt")}</a>
            </p>
          </Notice>
        )}
        {outcome === "failed" && (
          <Notice kind="error" focus>
            <p>{t("pay.failed")}</p>
            <button type="button" class="primary" onClick={props.again}>
              {t("pay.again")}
            </button>
          </Notice>
        )}
      </div>
      <p>
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}
