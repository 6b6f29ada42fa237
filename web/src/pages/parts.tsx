import type { Overview, Schemas } from "../api/client";
import { useI18n, type I18n, type MessageKey } from "../i18n";

export function StatusBadge({ status }: { status: Schemas["BookingStatusView"] }) {
  return <StatusText status={status} />;
}

function StatusText({ status }: { status: Schemas["BookingStatusView"] }) {
  // A component so it reads the current locale from context.
  return <span class={`badge status-${status.code}`}>{useStatus(status)}</span>;
}

function useStatus(status: Schemas["BookingStatusView"]): string {
  const { t, tp } = useI18n();
  if (status.code === "waitlisted" && status.waitlist_position)
    return tp("status.waitlistPosition", status.waitlist_position);
  return t(`status.${status.code}`);
}

const DOCS = ["invoice", "itinerary", "voucher", "receipt", "statement"] as const;
export function documentName(type: string, t: I18n["t"]): string {
  return (DOCS as readonly string[]).includes(type) ? t(`doc.${type}` as MessageKey) : t("doc.other");
}

export function kindName(kind: Schemas["InstalmentRow"]["kind"], t: I18n["t"]): string {
  return t(`kind.${kind}`);
}

/** Where an action is resolved. */
export function actionHref(a: Schemas["PendingAction"], reference: string): string {
  const base = `/trips/${encodeURIComponent(reference)}`;
  switch (a.type) {
    case "balance_due":
      return `${base}/pay`;
    case "instalment_payment_failed":
      return `${base}/pay?instalment=${encodeURIComponent(a.instalment_id ?? "")}`;
    case "instalment_awaiting_approval":
      return `${base}/schedule`;
    case "missing_passenger_details":
      return `${base}/travellers`;
    case "documents_updated":
      return `${base}#documents`;
  }
}

export function actionText(a: Schemas["PendingAction"], o: Overview, i18n: I18n): string {
  const { t } = i18n;
  switch (a.type) {
    case "balance_due":
      return a.is_overdue && a.overdue
        ? t("action.balance_overdue", { amount: a.amount?.display ?? "", overdue: a.overdue.display })
        : t("action.balance_due", { amount: a.amount?.display ?? "" });
    case "instalment_awaiting_approval":
      return t("action.instalment_awaiting_approval", { amount: a.amount?.display ?? "", date: a.due_date?.display ?? "" });
    case "instalment_payment_failed":
      return t("action.instalment_payment_failed", { amount: a.amount?.display ?? "", date: a.due_date?.display ?? "" });
    case "missing_passenger_details": {
      const who = o.travellers.find((x) => x.id === a.traveller_id);
      return t("action.missing_passenger_details", {
        name: a.first_name ?? who?.first_name ?? "",
        fields: fieldList(a.fields ?? [], i18n),
      });
    }
    case "documents_updated":
      return t("action.documents_updated", {
        documents: (a.documents ?? []).map((d) => documentName(d.type, t)).join(", "),
      });
  }
}

const FIELDS: readonly Schemas["DetailsField"][] = [
  "legal_name",
  "date_of_birth",
  "nationality",
  "travel_document",
  "dietary_requirements",
  "allergies",
  "mobility_notes",
  "medical_notes",
  "emergency_contact",
  "phone",
  "address",
];

/** A traveller-details field in words ("date of birth"); an unknown name as it came. */
export function fieldWord(f: string, t: I18n["t"]): string {
  return (FIELDS as readonly string[]).includes(f) ? t(`field.${f as Schemas["DetailsField"]}`) : f;
}

/** Fields in words as the locale lists them ("name, date of birth and emergency contact"). */
export function fieldList(fields: readonly string[], { t, locale }: I18n): string {
  const words = fields.map((f) => fieldWord(f, t));
  try {
    return new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(words);
  } catch {
    return words.join(", ");
  }
}

/** A whole percent in the locale's way ("100%", "100 %"). */
export function percentText(p: number, locale: string): string {
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 }).format(p / 100);
}
