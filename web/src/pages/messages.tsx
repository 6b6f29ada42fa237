// The booking's general thread ("message the team"): one conversation shared by everyone on the booking who
// signs in; the customer picks the team role they write to. Text only, like a request's conversation.
import { useEffect, useState } from "preact/hooks";
import { api, fieldErrors, type GeneralThread } from "../api/client";
import { newKey, useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading } from "../components";
import { useI18n } from "../i18n";
import { useLoad, useReloadOnLocale } from "../load";
import { useOverview } from "./booking";
import { Conversation, MessageBox, definitelyRefused, messageFor, refusalText, rqid, type FieldMessage } from "./request-parts";

export function MessagesPage({ reference }: { reference: string }) {
  const { t, locale } = useI18n();
  useTitle(t("msg.title"));
  useOverview(reference); // the booking's brand and locale
  const [data, reload] = useLoad(() => api.generalThread(reference), [reference]);
  useReloadOnLocale(locale, reload);
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  return <Thread initial={data.data} />;
}

function Thread({ initial }: { initial: GeneralThread }) {
  const { t } = useI18n();
  const [thread, setThread] = useState(initial);
  useEffect(() => setThread(initial), [initial]);
  const [role, setRole] = useState(initial.roles[0]?.id ?? "");
  const [body, setBody] = useState("");
  const [key, setKey] = useState(newKey);
  const [errors, setErrors] = useState<FieldMessage[]>([]);
  const [said, setSaid] = useState<{ kind: "success" | "error"; text: string; tick: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const base = `/trips/${encodeURIComponent(thread.reference)}`;
  const err = (field: string) => {
    const e = errors.find((x) => x.field === field);
    return e ? messageFor(e, t) : undefined;
  };
  const send = async () => {
    setBusy(true);
    setErrors([]);
    setSaid(null);
    try {
      const next = await api.postGeneralMessage(thread.reference, { role, body }, key);
      const to = thread.roles.find((x) => x.id === role)?.name ?? role;
      setThread(next);
      setBody("");
      setKey(newKey());
      setSaid({ kind: "success", text: t("msg.sent", { role: to }), tick: Date.now() });
    } catch (e) {
      if (definitelyRefused(e)) setKey(newKey());
      const errs = fieldErrors(e);
      if (errs.length > 0) {
        setErrors(errs);
        const first = errs[0]?.field === "role" ? "role" : "body";
        document.getElementById(rqid(first))?.focus();
      } else setSaid({ kind: "error", text: refusalText(e, t), tick: Date.now() });
    } finally {
      setBusy(false);
    }
  };
  const roleError = err("role");
  return (
    <div class="messages">
      <PageHeading>{t("msg.title")}</PageHeading>
      <p class="lede">{t("msg.intro")}</p>
      <p>
        <a href={`${base}/requests`}>{t("msg.requestsLink")}</a>
      </p>
      <section class="card" aria-labelledby="msg-conv-h">
        <h2 id="msg-conv-h">{t("req.conversation")}</h2>
        <Conversation messages={thread.messages} general />
      </section>
      <section class="card" aria-labelledby="msg-write-h">
        <h2 id="msg-write-h">{t("msg.write")}</h2>
        {said && (
          <Notice kind={said.kind} focus key={said.tick} testId="thread-message">
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
          <div class={roleError ? "field invalid" : "field"}>
            <label for={rqid("role")}>{t("msg.to")}</label>
            <select
              id={rqid("role")}
              name="role"
              value={role}
              onChange={(e) => setRole(e.currentTarget.value)}
              aria-invalid={roleError ? "true" : undefined}
              aria-describedby={roleError ? `${rqid("role")}-error` : undefined}
            >
              {thread.roles.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                </option>
              ))}
            </select>
            {roleError && (
              <p id={`${rqid("role")}-error`} class="field-error">
                {roleError}
              </p>
            )}
          </div>
          <MessageBox path="body" label={t("msg.body")} value={body} onInput={setBody} error={err("body")} max={thread.limits.message_max_chars} required />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? t("req.sending") : t("msg.send")}
          </button>
        </form>
      </section>
      <p>
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}
