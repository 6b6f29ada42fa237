// One amendment request: where it stands, what was asked (in words), its progress, the conversation with the
// team (text only), a reply while it is open, and withdrawing it (after a confirmation) while it may be.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, fieldErrors, type AmendmentRequest } from "../api/client";
import { newKey, useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading } from "../components";
import { useI18n } from "../i18n";
import { useLoad, useReloadOnLocale } from "../load";
import { useOverview } from "./booking";
import {
  Conversation,
  MESSAGE_MAX,
  MessageBox,
  RequestStatusBadge,
  aboutText,
  dateTime,
  definitelyRefused,
  messageFor,
  refusalText,
  requestSummary,
  statusName,
  typeName,
} from "./request-parts";

export function RequestPage({ reference, requestId }: { reference: string; requestId: string }) {
  const { t, locale } = useI18n();
  useOverview(reference); // the booking's brand and locale
  const [data, reload] = useLoad(() => api.request(reference, requestId), [reference, requestId]);
  useReloadOnLocale(locale, reload);
  useTitle(data.state === "ok" ? typeName(data.data.type, t) : t("req.title"));
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  // The API's message limit (the list and the thread repeat it; a request's answer does not need to).
  return <RequestView key={requestId} reference={reference} initial={data.data} max={MESSAGE_MAX} />;
}

type Said = { kind: "success" | "error"; text: string; tick: number };

function RequestView(props: { reference: string; initial: AmendmentRequest; max: number }) {
  const i18n = useI18n();
  const { t, locale } = i18n;
  const { reference } = props;
  const [r, setR] = useState(props.initial);
  const [notice, setNotice] = useState<Said | null>(null);
  useEffect(() => setR(props.initial), [props.initial]);
  /** A page-level message (it outlives the form that caused it, e.g. the withdraw form once withdrawn). */
  const say = (kind: Said["kind"], text: string) => setNotice({ kind, text, tick: Date.now() });
  /** The request as it is now (after a refusal that says it moved on meanwhile). */
  const refresh = () => {
    api.request(reference, r.request_id).then(setR, () => undefined);
  };
  const base = `/trips/${encodeURIComponent(reference)}`;
  const about = aboutText(r, i18n);
  const ctx = r.context;
  return (
    <div class="request">
      <PageHeading>{typeName(r.type, t)}</PageHeading>
      <p class="lede">
        <RequestStatusBadge status={r.status} />{" "}
        {t("req.asked", { date: dateTime(r.created_at, locale), name: r.submitted_by.name, role: r.role.name })}
      </p>
      {notice && (
        <Notice kind={notice.kind} focus key={notice.tick} testId="request-notice">
          <p>{notice.text}</p>
        </Notice>
      )}
      {r.status === "waiting_for_customer" && (
        <p class="notice info" data-testid="waiting">
          {t("req.waiting")}
        </p>
      )}
      {r.status === "completed" && (
        <p class="notice success">
          {t("req.completedNote")} <a href={base}>{t("app.backToBooking")}</a>
        </p>
      )}

      <section class="card" aria-labelledby="rq-what-h">
        <h2 id="rq-what-h">{t("req.what")}</h2>
        <p data-testid="request-summary">{requestSummary(r, i18n)}</p>
        {about && <p>{about}</p>}
        <p class="muted">{t("req.whenSent", { total: ctx.total.display, paid: ctx.paid.display, outstanding: ctx.outstanding.display })}</p>
      </section>

      <section class="card" aria-labelledby="rq-conv-h">
        <h2 id="rq-conv-h">{t("req.conversation")}</h2>
        <Conversation messages={r.messages} />
        {r.can_reply && <Reply reference={reference} r={r} max={props.max} onChange={setR} say={say} refresh={refresh} />}
      </section>

      <section class="card" aria-labelledby="rq-hist-h">
        <h2 id="rq-hist-h">{t("req.history")}</h2>
        <ol class="status-history" data-testid="status-history">
          {r.status_history.map((h, i) => (
            <li key={i}>
              {t("req.historyItem", {
                status: statusName(h.status, t),
                date: dateTime(h.at, locale),
                who: h.by === "system" ? t("req.by.system") : h.by_name,
              })}
            </li>
          ))}
        </ol>
      </section>

      {r.can_withdraw && (
        <Withdraw
          reference={reference}
          r={r}
          onChange={(next) => {
            setR(next);
            say("success", t("req.withdrawn"));
          }}
          say={say}
          refresh={refresh}
        />
      )}

      <p>
        <a href={`${base}/requests`}>{t("req.back")}</a>
        {" · "}
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}

interface Actions {
  reference: string;
  r: AmendmentRequest;
  onChange: (r: AmendmentRequest) => void;
  say: (kind: Said["kind"], text: string) => void;
  refresh: () => void;
}

/** A refusal because the request moved on meanwhile (closed, accepted): said on the page, which then shows it as it is. */
const movedOn = (e: unknown) => e instanceof ApiError && e.status === 409;

function Reply(props: Actions & { max: number }) {
  const { t } = useI18n();
  const [body, setBody] = useState("");
  const [key, setKey] = useState(newKey);
  const [error, setError] = useState<string | undefined>(undefined);
  const [said, setSaid] = useState<Said | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async () => {
    setBusy(true);
    setError(undefined);
    setSaid(null);
    try {
      const next = await api.replyToRequest(props.reference, props.r.request_id, { body }, key);
      setBody("");
      setKey(newKey()); // the next message is a new one
      props.onChange(next);
      setSaid({ kind: "success", text: t("req.replySent"), tick: Date.now() });
    } catch (e) {
      if (definitelyRefused(e)) setKey(newKey());
      const errs = fieldErrors(e);
      const first = errs[0];
      if (first) {
        setError(messageFor(first, t));
        document.getElementById("rq-reply")?.focus();
      } else if (movedOn(e)) {
        props.say("error", refusalText(e, t));
        props.refresh();
      } else setSaid({ kind: "error", text: refusalText(e, t), tick: Date.now() });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="reply">
      {said && (
        <Notice kind={said.kind} focus key={said.tick} testId="reply-message">
          <p>{said.text}</p>
        </Notice>
      )}
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) void send();
        }}
      >
        <MessageBox path="reply" label={t("req.reply")} value={body} onInput={setBody} error={error} max={props.max} required rows={4} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("req.sending") : t("req.replySend")}
        </button>
      </form>
    </div>
  );
}

function Withdraw(props: Actions) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirmRef = useRef<HTMLParagraphElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      const next = await api.withdrawRequest(props.reference, props.r.request_id, reason.trim() ? { reason: reason.trim() } : {});
      props.onChange(next);
    } catch (e) {
      const errs = fieldErrors(e);
      if (movedOn(e)) {
        props.say("error", refusalText(e, t));
        props.refresh();
      } else setError(errs[0] ? messageFor(errs[0], t) : refusalText(e, t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="rq-wd-h" data-testid="withdraw">
      <h2 id="rq-wd-h">{t("req.withdrawTitle")}</h2>
      {!asking ? (
        <>
          <p>{t("req.withdrawIntro")}</p>
          <button ref={openRef} type="button" class="secondary" onClick={() => setAsking(true)}>
            {t("req.withdraw")}
          </button>
        </>
      ) : (
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (!busy) void go();
          }}
        >
          <p ref={confirmRef} tabIndex={-1} class="confirm" data-testid="withdraw-confirm">
            <strong>{t("req.withdrawConfirm")}</strong>
          </p>
          <label for="rq-withdraw-reason">{t("req.withdrawReason")}</label>
          <textarea id="rq-withdraw-reason" rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <button type="submit" class="primary danger" disabled={busy}>
            {t("req.withdrawYes")}
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setAsking(false);
              setTimeout(() => openRef.current?.focus(), 0);
            }}
          >
            {t("req.withdrawNo")}
          </button>
        </form>
      )}
      {error && (
        <Notice kind="error" focus>
          <p>{error}</p>
        </Notice>
      )}
    </section>
  );
}
