// The party's traveller details: how far each traveller's form is, what is still needed (in words), and a
// link to each form this session may edit (the API lists only those: the lead sees everyone, another
// traveller only themself).
import { api } from "../api/client";
import { useTitle } from "../app";
import { ErrorBox, Loading, PageHeading } from "../components";
import { useI18n } from "../i18n";
import { useLoad, useReloadOnLocale } from "../load";
import { useOverview } from "./booking";
import { fieldList, percentText } from "./parts";

export function TravellersPage({ reference }: { reference: string }) {
  const i18n = useI18n();
  const { t, locale } = i18n;
  useTitle(t("details.title"));
  // The booking for its brand and locale (the header, the colours); the list for the progress.
  const [overview] = useOverview(reference);
  const [data, reload] = useLoad(() => api.travellerDetailsList(reference), [reference]);
  useReloadOnLocale(locale, reload);
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  const list = data.data;
  const base = `/trips/${encodeURIComponent(list.reference)}`;
  const onlyMe = list.travellers.length === 1 && list.travellers[0]?.is_you && !list.travellers[0]?.is_lead;
  const party = overview.state === "ok" ? overview.data.travellers.length : list.travellers.length;
  return (
    <div class="details-list">
      <PageHeading>{t("details.title")}</PageHeading>
      <p class="lede">{t("details.intro")}</p>
      <Progress
        value={list.percent}
        label={t("details.bookingProgress", { reference: list.reference, percent: percentText(list.percent, locale) })}
        testId="booking-percent"
      />
      {onlyMe && party > 1 && <p>{t("details.onlyYou")}</p>}
      <ul class="party" data-testid="party">
        {list.travellers.map((x) => {
          const name = `${x.first_name} ${x.last_name}`.trim();
          return (
            <li key={x.traveller_id} class="card" data-testid={`traveller-${x.traveller_id}`}>
              <h2>
                {name}
                {x.is_lead && <span class="badge">{t("booking.lead")}</span>}
                {x.is_you && <span class="badge">{t("booking.you")}</span>}
              </h2>
              <Progress value={x.percent} label={t("details.progress", { percent: percentText(x.percent, locale) })} />
              <p class={x.missing.length > 0 ? "warn" : "ok"}>
                {x.missing.length > 0 ? t("details.stillNeeded", { fields: fieldList(x.missing, i18n) }) : t("details.allDone")}
              </p>
              <p>
                <a
                  class="button secondary"
                  href={`${base}/travellers/${encodeURIComponent(x.traveller_id)}`}
                  aria-label={t("details.editLabel", { name })}
                >
                  {t("details.edit", { name: x.first_name })}
                </a>
              </p>
            </li>
          );
        })}
      </ul>
      <p>
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}

/** A percent as text, with a bar that repeats it (the text carries the information, not the colour). The
 * bar's width is set through the CSSOM (Preact's style object), which the CSP allows, not a style attribute. */
export function Progress({ value, label, testId }: { value: number; label: string; testId?: string }) {
  return (
    <div class="progress">
      <p data-testid={testId}>{label}</p>
      <div class="bar-track" aria-hidden="true">
        <div class="bar-fill" style={{ width: `${Math.max(0, Math.min(100, value))}%` }} />
      </div>
    </div>
  );
}
