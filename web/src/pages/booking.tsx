// The booking: what to do first, requests and messages to the team, the money picture, schedule, history, documents, then the trip itself.
import { useState } from "preact/hooks";
import { api, type Overview } from "../api/client";
import { useApp, useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading, errorText } from "../components";
import { useI18n } from "../i18n";
import { useLoad, useReloadOnLocale } from "../load";
import { StatusBadge, actionHref, actionText, documentName, fieldList, kindName, percentText } from "./parts";

export function useOverview(reference: string) {
  const { enterBooking, setWho } = useApp();
  return useLoad(async () => {
    const o = await api.booking(reference);
    enterBooking(o.brand, o.locale);
    return o;
  }, [reference, setWho]);
}

export const isZero = (amount: string) => /^-?0*(\.0*)?$/.test(amount);

export function BookingPage({ reference }: { reference: string }) {
  const i18n = useI18n();
  const { t, tp, locale } = i18n;
  useTitle(t("booking.title", { reference }));
  const [data, reload] = useOverview(reference);
  useReloadOnLocale(locale, reload);
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  const o = data.data;
  const base = `/trips/${encodeURIComponent(o.reference)}`;
  const isLead = o.viewer.role === "lead";
  const m = o.money;
  return (
    <div class="booking">
      <PageHeading>{t("booking.title", { reference: o.reference })}</PageHeading>
      <p class="lede">
        <StatusBadge status={o.status} /> · {o.travel.start.display} – {o.travel.end.display} ·{" "}
        {tp("booking.nights", o.travel.nights)} · {tp("booking.travellersCount", o.travellers.length)}
      </p>

      <section class="card" aria-labelledby="todo-h">
        <h2 id="todo-h">{t("booking.pending")}</h2>
        {o.pending_actions.length === 0 ? (
          <p>{t("booking.noPending")}</p>
        ) : (
          <ul class="actions">
            {o.pending_actions.map((a, i) => (
              <li key={i}>
                <a href={actionHref(a, o.reference)}>{actionText(a, o, i18n)}</a>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="card" aria-labelledby="rq-h" data-testid="requests-card">
        <h2 id="rq-h">{t("booking.requests")}</h2>
        <p>{t("booking.requestsIntro")}</p>
        <ul class="actions">
          <li>
            <a href={`${base}/requests`}>{t("booking.requestsLink")}</a>
          </li>
          <li>
            <a href={`${base}/messages`}>{t("booking.messagesLink")}</a>
          </li>
        </ul>
      </section>

      <section class="card" aria-labelledby="money-h">
        <h2 id="money-h">{t("booking.money")}</h2>
        <dl class="money">
          <div>
            <dt>{t("booking.total")}</dt>
            <dd>{m.total.display}</dd>
          </div>
          <div>
            <dt>{t("booking.paid")}</dt>
            <dd>{m.paid.display}</dd>
          </div>
          <div class="strong">
            <dt>{t("booking.outstanding")}</dt>
            <dd data-testid="outstanding">{m.outstanding.display}</dd>
          </div>
          <div>
            <dt>{t("booking.dueNow")}</dt>
            <dd>{m.due_now.display}</dd>
          </div>
          {!isZero(m.overdue.amount) && (
            <div class="warn">
              <dt>{t("booking.overdue")}</dt>
              <dd>{m.overdue.display}</dd>
            </div>
          )}
          {m.next_due && (
            <div>
              <dt>{t("booking.nextDue")}</dt>
              <dd>{t("booking.nextDueValue", { amount: m.next_due.amount.display, date: m.next_due.date.display })}</dd>
            </div>
          )}
          {!isZero(m.credit.amount) && (
            <div>
              <dt>{t("booking.credit")}</dt>
              <dd>{m.credit.display}</dd>
            </div>
          )}
        </dl>
        {!isZero(m.outstanding.amount) && o.status.code !== "cancelled" && (
          <p>
            <a class="button primary" href={`${base}/pay`}>
              {t("booking.payButton")}
            </a>
          </p>
        )}
        {m.traveller_shares.length > 0 && (
          <>
            <h3>{t("booking.shares")}</h3>
            <div class="scroll" tabIndex={0} aria-label={t("booking.shares")}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("col.traveller")}</th>
                    <th scope="col">{t("booking.share")}</th>
                    <th scope="col">{t("booking.paid")}</th>
                    <th scope="col">{t("booking.outstanding")}</th>
                  </tr>
                </thead>
                <tbody>
                  {m.traveller_shares.map((s) => (
                    <tr key={s.traveller_id}>
                      <th scope="row">{s.first_name}</th>
                      <td>{s.share.display}</td>
                      <td>{s.paid.display}</td>
                      <td>{s.outstanding.display}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>

      {o.instalments.length > 0 && (
        <section class="card" aria-labelledby="sched-h">
          <h2 id="sched-h">{t("booking.schedule")}</h2>
          <ScheduleTable o={o} />
          {isLead && (
            <p>
              <a href={`${base}/schedule`}>{t("booking.manageSchedule")}</a>
            </p>
          )}
        </section>
      )}

      <section class="card" aria-labelledby="hist-h">
        <h2 id="hist-h">{t("booking.history")}</h2>
        {o.payments.length === 0 ? (
          <p>{t("booking.noPayments")}</p>
        ) : (
          <div class="scroll" tabIndex={0} aria-label={t("booking.history")}>
            <table data-testid="payments">
              <thead>
                <tr>
                  <th scope="col">{t("col.date")}</th>
                  <th scope="col">{t("col.item")}</th>
                  <th scope="col">{t("col.amount")}</th>
                  <th scope="col">{t("col.method")}</th>
                  <th scope="col">{t("col.status")}</th>
                  <th scope="col">{t("booking.receipt")}</th>
                </tr>
              </thead>
              <tbody>
                {o.payments.map((p) => (
                  <tr key={p.id}>
                    <td>{p.date.display}</td>
                    <td>{t(`payment.${p.kind}`)}</td>
                    <td>{p.amount.display}</td>
                    <td>{p.method ? t(`method.${p.method}`) : ""}</td>
                    <td>{t(`payment.${p.status}`)}</td>
                    <td>
                      {p.receipt && (
                        <DownloadButton
                          reference={o.reference}
                          documentId={p.receipt.document_id}
                          version={p.receipt.version}
                          label={t("booking.download", { name: t("doc.receipt"), version: p.receipt.version })}
                          text={t("booking.receipt")}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="card" id="documents" aria-labelledby="docs-h" tabIndex={-1}>
        <h2 id="docs-h">{t("booking.documents")}</h2>
        {o.documents.length === 0 ? (
          <p>{t("booking.noDocuments")}</p>
        ) : (
          <ul class="docs" data-testid="documents">
            {o.documents.map((d) => (
              <li key={`${d.document_id}-${d.version}`}>
                <DownloadButton
                  reference={o.reference}
                  documentId={d.document_id}
                  version={d.version}
                  label={t("booking.download", { name: documentName(d.type, t), version: d.version })}
                  text={t("booking.download", { name: documentName(d.type, t), version: d.version })}
                />
                {d.updated_since_last_visit && <span class="badge new">{t("booking.updated")}</span>}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="card" aria-labelledby="tl-h">
        <h2 id="tl-h">{t("booking.timeline")}</h2>
        <ol class="timeline">
          {o.timeline.map((e, i) => (
            <li key={i} class={`tl-${e.state}`}>
              <span class="tl-date">{e.date.display}</span> <span>{t(`timeline.${e.kind}`)}</span>
              {e.amount && <span> · {e.amount.display}</span>}
              <span class="badge">{t(`timeline.${e.state}`)}</span>
            </li>
          ))}
        </ol>
      </section>

      <section class="card" aria-labelledby="it-h">
        <h2 id="it-h">{t("booking.itinerary")}</h2>
        {o.itinerary.length === 0 && <p>{t("booking.noItinerary")}</p>}
        <ol class="days">
          {o.itinerary.map((d) => (
            <li key={d.day}>
              <h3>
                {t("booking.day", { day: d.day })} · {d.date.display}: {d.title}
              </h3>
              {d.description && <p>{d.description}</p>}
              {d.accommodation && <p>{t("booking.accommodation", { name: d.accommodation })}</p>}
              {d.services.length > 0 && (
                <ul>
                  {d.services.map((s) => (
                    <li key={s.id}>
                      {s.name}
                      {" · "}
                      {s.supplier_reference
                        ? t("booking.supplierRef", { supplier: s.supplier_name, reference: s.supplier_reference })
                        : s.supplier_name}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ol>
      </section>

      <section class="card" id="travellers" aria-labelledby="tr-h" tabIndex={-1}>
        <h2 id="tr-h">{t("booking.travellers")}</h2>
        <ul class="travellers" data-testid="travellers">
          {o.travellers.map((x, i) => (
            <li key={x.id ?? i}>
              <strong>
                {x.first_name} {x.last_name ?? ""}
              </strong>
              {x.is_lead && <span class="badge">{t("booking.lead")}</span>}
              {x.is_you && <span class="badge">{t("booking.you")}</span>}
              {x.details_percent !== undefined && (
                <p class="muted">{t("booking.detailsPercent", { percent: percentText(x.details_percent, locale) })}</p>
              )}
              {x.missing_details && x.missing_details.length > 0 && (
                <p class="warn">{t("booking.missing", { fields: fieldList(x.missing_details, i18n) })}</p>
              )}
            </li>
          ))}
        </ul>
        <p>
          <a href={`${base}/travellers`}>{t("booking.detailsLink")}</a>
        </p>
      </section>
    </div>
  );
}

export function ScheduleTable({ o, actions }: { o: Overview; actions?: (row: Overview["instalments"][number]) => preact.ComponentChildren }) {
  const { t } = useI18n();
  return (
    <div class="scroll" tabIndex={0} aria-label={t("booking.schedule")}>
      <table data-testid="schedule">
        <thead>
          <tr>
            <th scope="col">{t("col.dueDate")}</th>
            <th scope="col">{t("col.item")}</th>
            <th scope="col">{t("col.amount")}</th>
            <th scope="col">{t("col.remaining")}</th>
            <th scope="col">{t("col.status")}</th>
            <th scope="col">{t("col.approval")}</th>
            {actions && <th scope="col"><span class="visually-hidden">{t("schedule.approve")}</span></th>}
          </tr>
        </thead>
        <tbody>
          {o.instalments.map((r) => (
            <tr key={r.id} data-testid={`instalment-${r.id}`}>
              <td>{r.due_date.display}</td>
              <td>{kindName(r.kind, t)}</td>
              <td>{r.amount.display}</td>
              <td>{r.remaining.display}</td>
              <td>
                {t(`instalment.${r.status}`)}
                {r.overdue && r.status !== "paid" && <span class="badge warn"> {t("instalment.overdue")}</span>}
              </td>
              <td>{t(`approval.${r.approval}`)}</td>
              {actions && <td>{actions(r)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One click: ask for a short-lived signed URL, then let the browser download it. */
export function DownloadButton(props: { reference: string; documentId: string; version: number; label: string; text: string }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      const u = await api.documentUrl(props.reference, props.documentId, props.version);
      window.location.assign(u.url);
    } catch (e) {
      setError(t("booking.downloadFailed", { detail: errorText(e, t) }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="link" aria-label={props.label === props.text ? undefined : props.label} disabled={busy} onClick={() => void go()}>
        {props.text}
      </button>
      {error && <Notice kind="error">{error}</Notice>}
    </>
  );
}
