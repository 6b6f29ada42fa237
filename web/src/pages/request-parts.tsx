// What the request pages share: status and type names, a request in words, the conversation (text only:
// bodies are text nodes, never markup), the message box with its character count, and the error summary.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type AmendmentRequest, type MessageView, type Schemas } from "../api/client";
import { errorText } from "../components";
import { useI18n, type I18n } from "../i18n";

export type RequestType = Schemas["RequestType"];
export type RequestStatus = Schemas["RequestStatus"];
export type FieldMessage = Schemas["DetailsFieldMessage"];

/** The longest message the API takes when the list has not said (it always does). */
export const MESSAGE_MAX = 4000;

/** A date (YYYY-MM-DD) in the page's locale, e.g. "2 May 2027", "2. Mai 2027", "2027年5月2日". */
export function isoDate(iso: string | null | undefined, locale: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? "");
  if (!m) return iso ?? "";
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" }).format(d);
}

/** A moment in the browser's time zone, in the page's locale. */
export function dateTime(iso: string, locale: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export const statusName = (s: RequestStatus, t: I18n["t"]) => t(`req.status.${s}`);
export const typeName = (k: RequestType, t: I18n["t"]) => t(`req.type.${k}`);

/** Closed: nothing more happens to it (declined, completed, withdrawn). */
export const isClosed = (s: RequestStatus) => s === "declined" || s === "completed" || s === "withdrawn";

export function RequestStatusBadge({ status }: { status: RequestStatus }) {
  const { t } = useI18n();
  return (
    <span class={`badge rq-status rq-${status}`} data-testid="request-status">
      {statusName(status, t)}
    </span>
  );
}

function names(list: readonly { name: string }[], locale: string): string {
  const words = list.map((x) => x.name);
  try {
    return new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(words);
  } catch {
    return words.join(", ");
  }
}

/** What was asked, in words ("New dates: 2 May 2027 – 9 May 2027"). */
export function requestSummary(r: AmendmentRequest, { t, locale }: I18n): string {
  const f = r.fields;
  const who = (id: string | undefined) => r.about.find((p) => p.traveller_id === id)?.name ?? id ?? "";
  switch (r.type) {
    case "service_change":
      return t("req.summary.service", {
        service: r.service ? t("req.serviceOption", { name: r.service.name, date: isoDate(r.service.date, locale) }) : (f.service_id ?? ""),
      });
    case "add_traveller": {
      const name = `${f.first_name ?? ""} ${f.last_name ?? ""}`.trim();
      return f.date_of_birth
        ? t("req.summary.addBorn", { name, date: isoDate(f.date_of_birth, locale) })
        : t("req.summary.add", { name });
    }
    case "remove_traveller":
      return t("req.summary.remove", { name: who(f.traveller_id) });
    case "date_change":
      return t("req.summary.dates", { start: isoDate(f.new_start, locale), end: isoDate(f.new_end, locale) });
    case "cancellation":
      return f.scope === "travellers"
        ? t("req.summary.cancelTravellers", {
            names: names(
              (f.traveller_ids ?? []).map((id) => ({ name: who(id) })),
              locale,
            ),
          })
        : t("req.summary.cancelBooking");
    case "special_assistance":
      return t("req.summary.assistance", { kind: t(`req.kind.${f.kind ?? "other"}`), name: who(f.traveller_id) });
    case "other":
      return t("req.summary.other");
  }
}

export function aboutText(r: AmendmentRequest, i18n: I18n): string | null {
  return r.about.length > 0 ? i18n.t("req.about", { names: names(r.about, i18n.locale) }) : null;
}

/** Who wrote a message, as the customer reads it ("You", "Ada Lovelace", "Reservations team"). */
function authorName(m: MessageView, t: I18n["t"]): string {
  if (m.author.kind === "customer" && m.author.is_you) return t("req.you");
  return m.author.name;
}

/** A conversation, oldest first. Bodies are text (escaped by Preact), their line breaks kept by CSS. */
export function Conversation({ messages, general = false }: { messages: MessageView[]; general?: boolean }) {
  const { t, locale } = useI18n();
  if (messages.length === 0) return <p data-testid="no-messages">{general ? t("msg.none") : t("req.noMessages")}</p>;
  return (
    <ol class="conversation" data-testid="conversation">
      {messages.map((m) => (
        <li key={m.message_id} class={`msg msg-${m.author.kind}${m.author.is_you ? " msg-you" : ""}`} data-testid="message">
          <p class="msg-meta">
            <strong data-testid="message-author">{authorName(m, t)}</strong>
            {general && m.author.kind === "customer" && m.role && <span> · {t("req.toRole", { role: m.role.name })}</span>}
            {" · "}
            <time dateTime={m.at}>{dateTime(m.at, locale)}</time>
          </p>
          <div class="msg-body" data-testid="message-body">
            {m.body}
          </div>
        </li>
      ))}
    </ol>
  );
}

/** The id of the input an API field path belongs to (`fields.new_end` → `rq-fields-new_end`). */
export const rqid = (path: string) => `rq-${path.replace(/\[(\d+)\]/g, "-$1").replace(/\./g, "-")}`;

/** Characters as the API counts them (Unicode scalar values, after trimming). */
export const charCount = (s: string) => [...s.replace(/\r\n/g, "\n").trim()].length;

/** A message textarea with its label, hint, error and a character count (announced after a pause in typing,
 * not on every key). No maxlength: a pasted text over the limit is kept and said to be too long. */
export function MessageBox(p: {
  path: string;
  label: string;
  hint?: string | undefined;
  value: string;
  onInput: (v: string) => void;
  error?: string | undefined;
  max: number;
  required?: boolean;
  rows?: number;
}) {
  const { t, tp, locale } = useI18n();
  const id = rqid(p.path);
  const n = charCount(p.value);
  const over = n - p.max;
  const fmt = new Intl.NumberFormat(locale);
  const countText = over > 0 ? tp("req.countOver", over) : t("req.count", { count: fmt.format(n), max: fmt.format(p.max) });
  const [spoken, setSpoken] = useState("");
  useEffect(() => {
    const h = setTimeout(() => setSpoken(n > 0 ? countText : ""), 1200);
    return () => clearTimeout(h);
  }, [countText, n]);
  const hintId = p.hint ? `${id}-hint` : undefined;
  const errId = p.error ? `${id}-error` : undefined;
  return (
    <div class={p.error ? "field invalid" : "field"}>
      <label for={id}>{p.label}</label>
      {p.hint && (
        <p id={hintId} class="muted hint">
          {p.hint}
        </p>
      )}
      <textarea
        id={id}
        name={p.path}
        rows={p.rows ?? 5}
        value={p.value}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        aria-invalid={p.error ? "true" : undefined}
        aria-required={p.required ? "true" : undefined}
        aria-describedby={[hintId, `${id}-count`, errId].filter(Boolean).join(" ")}
      />
      <p id={`${id}-count`} class={over > 0 ? "hint count over" : "hint count muted"} data-testid="char-count">
        {countText}
      </p>
      <span class="visually-hidden" aria-live="polite">
        {spoken}
      </span>
      {p.error && (
        <p id={errId} class="field-error">
          {p.error}
        </p>
      )}
    </div>
  );
}

/** An API field error in the page's words (the API's own detail is English). */
export function messageFor(e: FieldMessage, t: I18n["t"]): string {
  const d = e.detail;
  const field = e.field.replace(/\[\d+\]$/, "");
  const max = /at most (\d+) characters/.exec(d)?.[1];
  if (max) return t("req.err.tooLong", { max });
  if (d.includes("control character")) return t("req.err.control");
  const short = /1 to (\d+) characters/.exec(d)?.[1];
  if (short) return t("req.err.short", { max: short });
  if (field === "type") return t("req.err.type");
  if (field === "role") return t("req.err.role");
  if (field === "message" || field === "body") {
    if (d.includes("needs a message") || d.includes("say what")) return t("req.err.messageNeeded");
    return t("req.err.empty");
  }
  if (/: required$/.test(d)) {
    return ["fields.service_id", "fields.traveller_id", "fields.scope", "fields.kind"].includes(field)
      ? t("req.err.choose")
      : t("req.err.required");
  }
  if (d.includes("must be a date")) return t("req.err.date");
  switch (field) {
    case "fields.new_start":
      if (d.includes("dates already")) return t("req.err.sameDates");
      if (d.includes("today or later")) return t("req.err.startPast");
      break;
    case "fields.new_end": {
      if (d.includes("on or after")) return t("req.err.endBeforeStart");
      const days = /at most (\d+) days/.exec(d)?.[1];
      if (days) return t("req.err.tooLongTrip", { max: days });
      break;
    }
    case "fields.date_of_birth":
      return d.includes("past") ? t("req.err.dobFuture") : t("req.err.dobOld");
    case "fields.service_id":
      return t("req.err.service");
    case "fields.traveller_id":
      return d.includes("lead traveller cannot") ? t("req.err.lead") : t("req.err.traveller");
    case "fields.traveller_ids":
      return d.includes("twice") ? t("req.err.twice") : d.includes("no such") ? t("req.err.traveller") : t("req.err.travellers");
    case "fields.scope":
    case "fields.kind":
      return t("req.err.choose");
  }
  return t("req.err.other", { detail: d });
}

/** A refusal that is not about one field, in words: 403, 409, 429 (the rest as the app says errors). */
export function refusalText(e: unknown, t: I18n["t"]): string {
  if (e instanceof ApiError) {
    const type = e.problem?.type ?? "";
    if (e.status === 403) return t("req.forbidden");
    if (e.status === 429) return t("req.rateLimited");
    if (type.endsWith("/booking-cancelled")) return t("req.bookingCancelled");
    if (type.endsWith("/request-closed")) return t("req.closed");
    if (type.endsWith("/illegal-transition")) return t("req.illegal");
  }
  return errorText(e, t);
}

/** A definite refusal (nothing was written): the next try may use a fresh Idempotency-Key. A network error
 * or a 5xx may have been written, so the retry keeps the key and gets the first answer again. */
export const definitelyRefused = (e: unknown) => e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 409;

/** The errors above a form: a heading with the count, one link per input (focuses it), focused on show. */
export function ErrorSummary(p: { items: { path: string; label: string; text: string; target: string | null }[]; tick: number }) {
  const { tp } = useI18n();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (p.tick > 0) ref.current?.focus();
  }, [p.tick]);
  if (p.items.length === 0) return null;
  return (
    <div ref={ref} class="notice error summary" role="alert" tabIndex={-1} aria-labelledby="rq-errors-h" data-testid="error-summary">
      <h2 id="rq-errors-h">{tp("req.errorsTitle", p.items.length)}</h2>
      <ul>
        {p.items.map((x) => (
          <li key={x.path}>
            {x.target ? (
              <a
                href={`#${x.target}`}
                onClick={(e) => {
                  const el = document.getElementById(x.target ?? "");
                  if (!el) return;
                  e.preventDefault();
                  el.focus();
                }}
              >
                {x.label}: {x.text}
              </a>
            ) : (
              <>
                {x.label}: {x.text}
              </>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A message for the next page (shown once, e.g. "Request sent" on the list after a submission). */
let flash: { text: string; href?: string; linkText?: string } | null = null;
export function setFlash(f: typeof flash): void {
  flash = f;
}
export function takeFlash(): typeof flash {
  const f = flash;
  flash = null;
  return f;
}
