// My trips: every booking of the signed-in email (current first, then past). The session is scoped to one
// booking, so that one shows its next due date, required actions and newest document; another booking is
// one sign-in away.
import { api, type Overview, type Schemas } from "../api/client";
import { useApp, useTitle } from "../app";
import { ErrorBox, Loading, PageHeading } from "../components";
import { useI18n } from "../i18n";
import { useLoad } from "../load";
import { StatusBadge, actionText, documentName } from "./parts";

type Entry = Schemas["BookingListEntry"];

export function Trips() {
  const { t } = useI18n();
  const { setWho, enterBooking } = useApp();
  useTitle(t("trips.title"));
  const [data, reload] = useLoad(async () => {
    const who = (await api.currentSession()).session;
    setWho(who);
    const [list, overview] = await Promise.all([api.bookings(), api.booking(who.booking_reference)]);
    enterBooking(overview.brand, overview.locale);
    return { who, list, overview };
  }, []);

  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  const { list, overview } = data.data;
  const current = list.bookings.filter((b) => b.current);
  const past = list.bookings.filter((b) => !b.current);
  return (
    <div>
      <PageHeading>{t("trips.title")}</PageHeading>
      {list.bookings.length === 0 && <p>{t("trips.none")}</p>}
      {current.length > 0 && (
        <section aria-labelledby="cur-h">
          <h2 id="cur-h">{t("trips.current")}</h2>
          <ul class="trips">
            {current.map((b) => (
              <TripCard key={b.reference} entry={b} overview={b.reference === overview.reference ? overview : null} />
            ))}
          </ul>
        </section>
      )}
      {past.length > 0 && (
        <section aria-labelledby="past-h">
          <h2 id="past-h">{t("trips.past")}</h2>
          <ul class="trips">
            {past.map((b) => (
              <TripCard key={b.reference} entry={b} overview={b.reference === overview.reference ? overview : null} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function TripCard({ entry, overview }: { entry: Entry; overview: Overview | null }) {
  const i18n = useI18n();
  const { t } = i18n;
  const newest = overview?.documents.reduce<Overview["documents"][number] | null>(
    (a, d) => (!a || (d.generated_at ?? "") > (a.generated_at ?? "") ? d : a),
    null,
  );
  return (
    <li class="card trip" data-testid={`trip-${entry.reference}`}>
      <h3>
        {overview ? (
          <a href={`/trips/${encodeURIComponent(entry.reference)}`}>{t("trips.open", { reference: entry.reference })}</a>
        ) : (
          <span>{entry.reference}</span>
        )}
      </h3>
      <p>
        <StatusBadge status={entry.status} /> ·{" "}
        {t("trips.dates", { start: entry.travel_start.display, end: entry.travel_end.display })}
      </p>
      <dl class="facts">
        <div>
          <dt>{t("trips.outstanding")}</dt>
          <dd>{entry.outstanding.display}</dd>
        </div>
        {overview?.money.next_due && (
          <div>
            <dt>{t("trips.nextDue")}</dt>
            <dd>
              {t("booking.nextDueValue", {
                amount: overview.money.next_due.amount.display,
                date: overview.money.next_due.date.display,
              })}
            </dd>
          </div>
        )}
        {newest && (
          <div>
            <dt>{t("trips.newestDocument")}</dt>
            <dd>{documentName(newest.type, t)}</dd>
          </div>
        )}
      </dl>
      {overview && overview.pending_actions.length > 0 && (
        <>
          <h4>{t("trips.actions")}</h4>
          <ul>
            {overview.pending_actions.map((a, i) => (
              <li key={i}>{actionText(a, overview, i18n)}</li>
            ))}
          </ul>
        </>
      )}
      {!overview && (
        <p>
          <a href={`/sign-in?reference=${encodeURIComponent(entry.reference)}`}>
            {t("trips.signInOther", { reference: entry.reference })}
          </a>
        </p>
      )}
    </li>
  );
}
