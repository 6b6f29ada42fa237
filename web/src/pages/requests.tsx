// The booking's amendment requests (docs/requests.md): what the session asked for and where each stands, a
// new request, the general thread ("message the team"), and whether optional updates are also emailed.
import { useState } from "preact/hooks";
import { api, type AmendmentRequest } from "../api/client";
import { useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading, errorText } from "../components";
import { useI18n } from "../i18n";
import { useLoad, useReloadOnLocale } from "../load";
import { useOverview } from "./booking";
import { RequestStatusBadge, aboutText, dateTime, requestSummary, statusName, takeFlash, typeName } from "./request-parts";

export function RequestsPage({ reference }: { reference: string }) {
  const i18n = useI18n();
  const { t, locale } = i18n;
  useTitle(t("req.title"));
  useOverview(reference); // the booking's brand and locale
  const [flash] = useState(takeFlash);
  const [data, reload] = useLoad(() => api.requests(reference), [reference]);
  useReloadOnLocale(locale, reload);
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  const list = data.data;
  const base = `/trips/${encodeURIComponent(list.reference)}`;
  return (
    <div class="requests">
      <PageHeading>{t("req.title")}</PageHeading>
      <p class="lede">{t("req.intro")}</p>
      {flash && (
        <Notice kind="success" focus testId="requests-message">
          <p>{flash.text}</p>
          {flash.href && (
            <p>
              <a href={flash.href}>{flash.linkText}</a>
            </p>
          )}
        </Notice>
      )}
      <p class="actions-row">
        <a class="button primary" href={`${base}/requests/new`}>
          {t("req.new")}
        </a>
        <a class="button secondary" href={`${base}/messages`}>
          {t("req.messagesLink")}
        </a>
      </p>

      <section aria-labelledby="rq-list-h">
        <h2 id="rq-list-h">{t("req.listTitle")}</h2>
        {!list.choices.is_lead && <p class="muted">{t("req.onlyYours")}</p>}
        {list.requests.length === 0 ? (
          <p data-testid="no-requests">{t("req.none")}</p>
        ) : (
          <ul class="request-list" data-testid="requests">
            {list.requests.map((r) => (
              <RequestCard key={r.request_id} r={r} base={base} />
            ))}
          </ul>
        )}
      </section>

      <Preferences reference={list.reference} />

      <p>
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}

function RequestCard({ r, base }: { r: AmendmentRequest; base: string }) {
  const i18n = useI18n();
  const { t, tp, locale } = i18n;
  const about = aboutText(r, i18n);
  const when = dateTime(r.created_at, locale);
  return (
    <li class="card" data-testid={`request-${r.request_id}`}>
      <h3>
        <a
          href={`${base}/requests/${encodeURIComponent(r.request_id)}`}
          aria-label={t("req.openLabel", { type: typeName(r.type, t), status: statusName(r.status, t), date: when })}
        >
          {typeName(r.type, t)}
        </a>
        <RequestStatusBadge status={r.status} />
      </h3>
      <p>{requestSummary(r, i18n)}</p>
      {about && <p class="muted">{about}</p>}
      <p class="muted">
        {t("req.sentBy", { date: when, name: r.submitted_by.name })} · {t("req.handledBy", { role: r.role.name })} ·{" "}
        {tp("req.messages", r.message_count)}
      </p>
    </li>
  );
}

type PrefKey = "booking_updates" | "payment_reminders" | "optional_updates_by_email";

/** The traveller's email preferences, each saved as soon as it changes, and said so. Transactional emails are not
 * among them (the section says which those are). */
function Preferences({ reference }: { reference: string }) {
  const { t } = useI18n();
  const [prefs, reload] = useLoad(() => api.communicationPreferences(reference), [reference]);
  const [values, setValues] = useState<Partial<Record<PrefKey, boolean>>>({});
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: "success" | "error"; text: string } | null>(null);
  if (prefs.state === "loading") return null;
  if (prefs.state === "error") return <ErrorBox error={prefs.error} retry={() => void reload()} />;
  const value = (k: PrefKey) => values[k] ?? prefs.data[k];
  const saved: Record<PrefKey, [string, string]> = {
    booking_updates: [t("req.prefsBookingOn"), t("req.prefsBookingOff")],
    payment_reminders: [t("req.prefsRemindersOn"), t("req.prefsRemindersOff")],
    optional_updates_by_email: [t("req.prefsSaved"), t("req.prefsSavedOff")],
  };
  const save = async (k: PrefKey, v: boolean) => {
    setValues((old) => ({ ...old, [k]: v }));
    setBusy(true);
    setMessage(null);
    try {
      const r = await api.saveCommunicationPreferences(reference, { [k]: v });
      setValues({ booking_updates: r.booking_updates, payment_reminders: r.payment_reminders, optional_updates_by_email: r.optional_updates_by_email });
      setMessage({ kind: "success", text: r[k] ? saved[k][0] : saved[k][1] });
    } catch (e) {
      setValues((old) => ({ ...old, [k]: !v }));
      setMessage({ kind: "error", text: errorText(e, t) });
    } finally {
      setBusy(false);
    }
  };
  const box = (k: PrefKey, id: string, label: string, hint?: string) => (
    <label class="check consent">
      <input
        type="checkbox"
        id={id}
        checked={value(k)}
        aria-describedby={hint}
        onChange={(e) => {
          // Not disabled while saving (a disabled box would drop the keyboard's focus); a change meanwhile waits.
          if (!busy) void save(k, e.currentTarget.checked);
          else e.currentTarget.checked = value(k);
        }}
      />
      <span>{label}</span>
    </label>
  );
  return (
    <section class="card" aria-labelledby="rq-prefs-h">
      <h2 id="rq-prefs-h">{t("req.prefsTitle")}</h2>
      <p id="rq-prefs-always" class="muted">
        {t("req.prefsAlways")}
      </p>
      {box("booking_updates", "rq-prefs-booking", t("req.prefsBooking"))}
      {box("payment_reminders", "rq-prefs-reminders", t("req.prefsReminders"))}
      <p id="rq-prefs-hint" class="muted">
        {t("req.prefsHint")}
      </p>
      {box("optional_updates_by_email", "rq-prefs-optional", t("req.prefsOptional"), "rq-prefs-hint")}
      <div role="status" data-testid="prefs-message" class={message ? `notice ${message.kind}` : undefined}>
        {message && <p>{message.text}</p>}
      </div>
    </section>
  );
}
