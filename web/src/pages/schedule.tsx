// Scheduled payments: save a card (a SetupIntent through the gateway's form), approve one payment or all of
// them, withdraw an approval. Approved payments are charged on their due date without asking again.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Overview, type Schemas } from "../api/client";
import { newKey, useApp, useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading, errorText } from "../components";
import { useI18n } from "../i18n";
import { useLoad } from "../load";
import { appearance, loadStripe, type StripeJs } from "../stripe";
import { ScheduleTable, isZero, useOverview } from "./booking";
import { kindName } from "./parts";

type Card = Schemas["SavedCard"];

const CARD_BRANDS: Record<string, string> = { visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover", jcb: "JCB", unionpay: "UnionPay", diners: "Diners Club" };
/** The card network's own name (a brand name, not translated). */
const cardBrand = (b: string) => CARD_BRANDS[b.toLowerCase()] ?? b.charAt(0).toUpperCase() + b.slice(1);
type Row = Overview["instalments"][number];

export function SchedulePage({ reference }: { reference: string }) {
  const { t } = useI18n();
  useTitle(t("schedule.title"));
  const [data, reload] = useOverview(reference);
  const [cards, reloadCards] = useLoad(() => api.paymentMethods(reference), [reference]);
  if (data.state === "loading" || cards.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  if (cards.state === "error") return <ErrorBox error={cards.error} retry={() => void reloadCards()} />;
  return (
    <Schedule
      o={data.data}
      cards={cards.data.payment_methods}
      refresh={() => reload(true)}
      refreshCards={() => reloadCards(true)}
    />
  );
}

function Schedule(props: {
  o: Overview;
  cards: Card[];
  refresh: () => Promise<Overview | undefined>;
  refreshCards: () => Promise<Schemas["PaymentMethods"] | undefined>;
}) {
  const { t, tp } = useI18n();
  const { o, cards } = props;
  const base = `/trips/${encodeURIComponent(o.reference)}`;
  const card = cards[cards.length - 1] ?? null;
  const [message, setMessage] = useState<{ kind: "success" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [setup, setSetup] = useState<Schemas["SetupResponse"] | null>(null);
  const keys = useRef(new Map<string, string>());
  const keyOf = (action: string) => {
    let k = keys.current.get(action);
    if (!k) {
      k = newKey();
      keys.current.set(action, k);
    }
    return k;
  };

  if (o.viewer.role !== "lead") {
    return (
      <div class="narrow">
        <PageHeading>{t("schedule.title")}</PageHeading>
        <p>{t("schedule.leadOnly")}</p>
        <ScheduleTable o={o} />
        <p>
          <a href={base}>{t("app.backToBooking")}</a>
        </p>
      </div>
    );
  }

  const act = async (action: string, f: (key: string) => Promise<Schemas["ApprovalResponse"]>, ok: (r: Schemas["ApprovalResponse"]) => string) => {
    setBusy(true);
    setMessage(null);
    try {
      const r = await f(keyOf(action));
      keys.current.delete(action);
      setMessage({ kind: "success", text: ok(r) });
      await props.refresh();
    } catch (e) {
      setMessage({ kind: "error", text: errorText(e, t) });
    } finally {
      setBusy(false);
    }
  };

  const approvable = (r: Row) => r.approval === "awaiting_approval" && !isZero(r.remaining.amount) && r.status !== "cancelled";
  const label = (key: "schedule.approveLabel" | "schedule.withdrawLabel", r: Row) =>
    t(key, { kind: kindName(r.kind, t), amount: r.remaining.display, date: r.due_date.display });

  return (
    <div>
      <PageHeading>{t("schedule.title")}</PageHeading>
      <p>{t("schedule.intro")}</p>
      <section class="card" aria-labelledby="card-h">
        <h2 id="card-h">{t("schedule.card")}</h2>
        <p data-testid="saved-card">{card ? t("schedule.cardValue", { brand: cardBrand(card.brand), last4: card.last4 }) : t("schedule.noCard")}</p>
        {!setup && (
          <button
            type="button"
            class={card ? "secondary" : "primary"}
            disabled={busy}
            onClick={() => {
              setBusy(true);
              api
                .setupCard(o.reference, keyOf("setup"))
                .then((s) => setSetup(s))
                .catch((e: unknown) => setMessage({ kind: "error", text: errorText(e, t) }))
                .finally(() => setBusy(false));
            }}
          >
            {card ? t("schedule.replaceCard") : t("schedule.saveCard")}
          </button>
        )}
        {setup && (
          <CardSetup
            setup={setup}
            known={new Set(cards.map((c) => c.payment_method_id))}
            refreshCards={props.refreshCards}
            saved={() => {
              keys.current.delete("setup");
              setSetup(null);
              setMessage({ kind: "success", text: t("schedule.cardSaved") });
            }}
          />
        )}
      </section>
      {message && (
        <Notice kind={message.kind} focus testId="schedule-message">
          {message.text}
        </Notice>
      )}
      <section class="card" aria-labelledby="rows-h">
        <h2 id="rows-h">{t("booking.schedule")}</h2>
        <ScheduleTable
          o={o}
          actions={(r) =>
            approvable(r) ? (
              <button
                type="button"
                class="secondary"
                disabled={busy || !card}
                aria-label={label("schedule.approveLabel", r)}
                onClick={() =>
                  void act(
                    `approve:${r.id}`,
                    (k) => api.approveOne(o.reference, r.id, card ? { payment_method_id: card.payment_method_id } : {}, k),
                    () => t("schedule.approvedOne"),
                  )
                }
              >
                {t("schedule.approve")}
              </button>
            ) : r.approval === "approved" && r.status !== "paid" && r.status !== "processing" ? (
              <button
                type="button"
                class="link"
                disabled={busy}
                aria-label={label("schedule.withdrawLabel", r)}
                onClick={() => void act(`withdraw:${r.id}`, (k) => api.withdraw(o.reference, r.id, k), () => t("schedule.withdrawn"))}
              >
                {t("schedule.withdraw")}
              </button>
            ) : null
          }
        />
        {!card && o.instalments.some(approvable) && <p class="muted">{t("schedule.needCard")}</p>}
        <p>
          <button
            type="button"
            class="primary"
            disabled={busy || !card || !o.instalments.some(approvable)}
            onClick={() =>
              void act(
                "approve-all",
                (k) => api.approveAll(o.reference, card ? { payment_method_id: card.payment_method_id } : {}, k),
                (r) => (r.changed.length ? tp("schedule.approvedAll", r.changed.length) : t("schedule.nothingToApprove")),
              )
            }
          >
            {t("schedule.approveAll")}
          </button>
        </p>
      </section>
      <p>
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}

/** The gateway's card form (Stripe's Payment Element in setup mode; locally the sandbox page), then poll
 * the saved cards until the new one is there: the webhook, not the browser, records it. */
function CardSetup(props: {
  setup: Schemas["SetupResponse"];
  known: Set<string>;
  refreshCards: () => Promise<Schemas["PaymentMethods"] | undefined>;
  saved: () => void;
}) {
  const { t, locale } = useI18n();
  const { brand } = useApp();
  const mount = useRef<HTMLDivElement>(null);
  const stripe = useRef<{ js: StripeJs; elements: ReturnType<StripeJs["elements"]> } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      if (stop) return;
      const r = await props.refreshCards();
      if (r?.payment_methods.some((c) => !props.known.has(c.payment_method_id))) {
        props.saved();
        return;
      }
      setTimeout(() => void tick(), 1500);
    };
    const first = setTimeout(() => void tick(), 1500);
    return () => {
      stop = true;
      clearTimeout(first);
    };
  }, [props.setup.setup_id]);
  useEffect(() => {
    if (props.setup.gateway !== "stripe") return;
    if (!brand.stripe_publishable_key) {
      setError(t("pay.stripeUnavailable"));
      return;
    }
    let el: { destroy(): void } | null = null;
    loadStripe(brand.stripe_publishable_key)
      .then((js) => {
        const elements = js.elements({ clientSecret: props.setup.client_secret, locale, appearance: appearance(brand.primary_colour) });
        const e = elements.create("payment");
        if (mount.current) e.mount(mount.current);
        el = e;
        stripe.current = { js, elements };
      })
      .catch(() => setError(t("pay.stripeUnavailable")));
    return () => el?.destroy();
  }, [props.setup.client_secret]);
  return (
    <div>
      <p>{t("schedule.savingCard")}</p>
      {props.setup.gateway === "sandbox" && props.setup.setup_url ? (
        <iframe class="checkout-frame" title={t("schedule.cardFrameTitle")} src={props.setup.setup_url} />
      ) : (
        <>
          <div ref={mount} class="stripe-element" />
          {error && <Notice kind="error">{error}</Notice>}
          <button
            type="button"
            class="primary"
            onClick={() => {
              if (!stripe.current) return;
              void stripe.current.js
                .confirmSetup({
                  elements: stripe.current.elements,
                  redirect: "if_required",
                  confirmParams: { return_url: location.href },
                })
                .then((r) => r.error && setError(r.error.message ?? t("pay.stripeUnavailable")));
            }}
          >
            {t("schedule.saveCard")}
          </button>
        </>
      )}
    </div>
  );
}
