// One traveller's details form: every field the operator may ask for, the operator's required ones marked,
// saved whole with If-Match (the version read), every error next to its field with a summary that takes
// focus, the profile from the last trip offered (never copied until saved), the history with restore, and
// the customer's own data: download it, or ask for it to be erased.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import {
  ApiError,
  api,
  fieldErrors,
  travellerExportUrl,
  type DetailsList,
  type DetailsView,
  type Schemas,
} from "../api/client";
import { useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading, errorText } from "../components";
import { countryName, useCountries, type Country } from "../countries";
import { useI18n, type I18n } from "../i18n";
import { useLoad } from "../load";
import { useOverview } from "./booking";
import { fieldList, fieldWord, percentText } from "./parts";
import { Progress } from "./travellers";

type Values = Schemas["TravellerDetailsValues"];
type Input = Schemas["TravellerDetailsInput"];
type FieldMessage = Schemas["DetailsFieldMessage"];
type DocKind = "" | "passport" | "national_id";

/** The form as the inputs hold it (strings; the API's shape is built on save). */
interface Form {
  given: string;
  surname: string;
  dob: string;
  nationality: string;
  docKind: DocKind;
  docNumber: string;
  docCountry: string;
  docExpiry: string;
  dietary: string;
  dietaryNone: boolean;
  allergies: string;
  allergiesNone: boolean;
  mobility: string;
  mobilityNone: boolean;
  medical: string;
  medicalNone: boolean;
  ecName: string;
  ecRelation: string;
  ecPhone: string;
  phone: string;
  line0: string;
  line1: string;
  line2: string;
  city: string;
  postcode: string;
  region: string;
  country: string;
  marketing: boolean;
  sms: boolean;
}

/** The form filled from details as the API shows them (an empty free-text answer is the answer "none"). */
function formFrom(d: Values): Form {
  const note = (v: string | null | undefined): [string, boolean] => [v ?? "", v === ""];
  const [dietary, dietaryNone] = note(d.dietary_requirements);
  const [allergies, allergiesNone] = note(d.allergies);
  const [mobility, mobilityNone] = note(d.mobility_notes);
  const [medical, medicalNone] = note(d.medical_notes);
  const lines = d.address?.lines ?? [];
  return {
    given: d.legal_name?.given_names ?? "",
    surname: d.legal_name?.surname ?? "",
    dob: d.date_of_birth ?? "",
    nationality: d.nationality?.toUpperCase() ?? "",
    docKind: d.travel_document?.kind ?? "",
    docNumber: "", // never shown: only the masked number is known
    docCountry: d.travel_document?.issuing_country?.toUpperCase() ?? "",
    docExpiry: d.travel_document?.expiry_date ?? "",
    dietary,
    dietaryNone,
    allergies,
    allergiesNone,
    mobility,
    mobilityNone,
    medical,
    medicalNone,
    ecName: d.emergency_contact?.name ?? "",
    ecRelation: d.emergency_contact?.relation ?? "",
    ecPhone: d.emergency_contact?.phone ?? "",
    phone: d.phone ?? "",
    line0: lines[0] ?? "",
    line1: lines[1] ?? "",
    line2: lines[2] ?? "",
    city: d.address?.city ?? "",
    postcode: d.address?.postcode ?? "",
    region: d.address?.region ?? "",
    country: d.address?.country?.toUpperCase() ?? "",
    marketing: d.preferences?.marketing_email ?? false,
    sms: d.preferences?.sms ?? false,
  };
}

/** The whole form for the PUT (a full replacement: what is empty is sent as null, i.e. cleared). */
function inputFrom(f: Form, useProfileDocument: boolean): Input {
  const s = (v: string) => (v.trim() === "" ? null : v.trim());
  const note = (v: string, none: boolean) => (none ? "" : s(v));
  const lines = [f.line0, f.line1, f.line2];
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === "") lines.pop();
  const anyAddress = lines.length > 0 || [f.city, f.postcode, f.region, f.country].some((v) => v.trim() !== "");
  const anyContact = [f.ecName, f.ecRelation, f.ecPhone].some((v) => v.trim() !== "");
  return {
    legal_name: f.given.trim() || f.surname.trim() ? { given_names: f.given.trim(), surname: f.surname.trim() } : null,
    date_of_birth: s(f.dob),
    nationality: s(f.nationality),
    travel_document:
      f.docKind === ""
        ? null
        : {
            kind: f.docKind,
            ...(f.docNumber.trim() ? { number: f.docNumber.trim() } : {}),
            issuing_country: f.docCountry,
            expiry_date: f.docExpiry,
          },
    dietary_requirements: note(f.dietary, f.dietaryNone),
    allergies: note(f.allergies, f.allergiesNone),
    mobility_notes: note(f.mobility, f.mobilityNone),
    medical_notes: note(f.medical, f.medicalNone),
    emergency_contact: anyContact ? { name: f.ecName.trim(), relation: f.ecRelation.trim(), phone: f.ecPhone.trim() } : null,
    phone: s(f.phone),
    address: anyAddress
      ? { lines: lines.map((l) => l.trim()), city: f.city.trim(), postcode: s(f.postcode), region: s(f.region), country: f.country }
      : null,
    preferences: { marketing_email: f.marketing, sms: f.sms },
    use_profile_document: useProfileDocument && f.docKind !== "" && f.docNumber.trim() === "",
  };
}

/** The id of the input an API field path (`address.lines[1]`) belongs to. */
export const fid = (path: string) => `td-${path.replace(/\[(\d+)\]/g, "-$1").replace(/\./g, "-")}`;

/** An error's field, moved to the input that answers it (a group's error goes to its first input). */
function inputPath(field: string): string {
  switch (field) {
    case "legal_name":
      return "legal_name.given_names";
    case "travel_document":
      return "travel_document.kind";
    case "emergency_contact":
      return "emergency_contact.name";
    case "address":
    case "address.lines":
      return "address.lines[0]";
    case "preferences":
      return "preferences.marketing_email";
    default:
      return field;
  }
}

function isoDate(iso: string, locale: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" }).format(d);
}

function dateTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/** The last day the document must be valid: the end of travel plus the operator's months. */
function validUntil(list: DetailsList): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(list.travel_end);
  if (!m) return list.travel_end;
  const months = list.requirements.document_validity.months_after_travel;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1 + months, Number(m[3])));
  return d.toISOString().slice(0, 10);
}

/** An API error or warning in the page's words (the API's own detail is English). */
function messageFor(e: FieldMessage, list: DetailsList, { t, locale }: I18n, warning = false): string {
  const d = e.detail;
  const date = /(\d{4}-\d{2}-\d{2})/.exec(d)?.[1] ?? validUntil(list);
  if (warning) {
    return e.field === "travel_document.expiry_date" ? t("details.warn.validUntil", { date: isoDate(date, locale) }) : d;
  }
  if (/:\s*required$/.test(d) && e.field !== "travel_document.number") return t("details.err.required");
  const max = /at most (\d+) characters/.exec(d)?.[1];
  if (max) return t("details.err.tooLong", { max });
  if (d.includes("control characters")) return t("details.err.control");
  switch (e.field) {
    case "date_of_birth":
      return d.includes("future") ? t("details.err.dobFuture") : d.includes("years ago") ? t("details.err.dobOld") : t("details.err.date");
    case "nationality":
    case "travel_document.issuing_country":
    case "address.country":
      return t("details.err.country");
    case "travel_document.kind":
      return t("details.err.kind");
    case "travel_document.number":
      return d.includes("required") ? t("details.err.numberNeeded") : t("details.err.number");
    case "travel_document.expiry_date":
      if (d.includes("expired")) return t("details.err.expired");
      if (d.includes("valid until")) return t("details.err.validUntil", { date: isoDate(date, locale) });
      return t("details.err.date");
    case "phone":
    case "emergency_contact.phone":
      return t("details.err.phone");
    case "address.lines":
      return t("details.err.lines");
    case "preferences.sms":
      return t("details.err.smsPhone");
    default:
      return t("details.err.other", { detail: d });
  }
}

export function TravellerFormPage({ reference, travellerId }: { reference: string; travellerId: string }) {
  const { t, locale } = useI18n();
  useOverview(reference); // the booking's brand and locale
  const [list, reloadList] = useLoad(() => api.travellerDetailsList(reference), [reference]);
  const [details, reloadDetails] = useLoad(() => api.travellerDetails(reference, travellerId), [reference, travellerId]);
  useEffect(() => {
    void reloadList(true); // the consent wording in the page's locale
  }, [locale, reloadList]);
  const name = details.state === "ok" ? `${details.data.data.first_name} ${details.data.data.last_name}`.trim() : "";
  useTitle(name ? t("details.formTitle", { name }) : t("details.title"));
  if (list.state === "loading" || details.state === "loading") return <Loading />;
  if (list.state === "error") return <ErrorBox error={list.error} retry={() => void reloadList()} />;
  if (details.state === "error") return <ErrorBox error={details.error} retry={() => void reloadDetails()} />;
  return (
    <DetailsForm
      key={travellerId}
      reference={reference}
      list={list.data}
      initial={details.data.data}
      initialEtag={details.data.etag}
    />
  );
}

type Message = { kind: "success" | "error" | "info"; text: string; items?: string[] };

function DetailsForm(props: { reference: string; list: DetailsList; initial: DetailsView; initialEtag: string | null }) {
  const i18n = useI18n();
  const { t, tp, locale } = i18n;
  const { list, reference } = props;
  const countries = useCountries(locale);
  const [view, setView] = useState(props.initial);
  const [etag, setEtag] = useState(props.initialEtag ?? `"${props.initial.version}"`);
  const [form, setForm] = useState(() => formFrom(props.initial.details));
  const [profileDoc, setProfileDoc] = useState<string | null>(null);
  const [suggestionUsed, setSuggestionUsed] = useState(false);
  const [errors, setErrors] = useState<FieldMessage[]>([]);
  const [errorTick, setErrorTick] = useState(0);
  const [message, setMessage] = useState<Message | null>(null);
  const [messageTick, setMessageTick] = useState(0);
  const [busy, setBusy] = useState(false);
  const summary = useRef<HTMLDivElement>(null);
  const notice = useRef<HTMLDivElement>(null);
  const [history, reloadHistory] = useLoad(
    () => api.travellerDetailsHistory(reference, view.traveller_id),
    [reference, view.traveller_id],
  );
  const base = `/trips/${encodeURIComponent(reference)}`;
  const name = `${view.first_name} ${view.last_name}`.trim();
  const required = new Set<string>(list.requirements.required);

  useEffect(() => {
    if (errorTick > 0) summary.current?.focus();
  }, [errorTick]);
  useEffect(() => {
    if (messageTick > 0) notice.current?.focus();
  }, [messageTick]);

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));
  const say = (m: Message) => {
    setMessage(m);
    setMessageTick((n) => n + 1);
  };

  /** A fresh copy from the API (after a 412 or a restore), the form following it. */
  const accept = (v: DetailsView, tag: string | null) => {
    setView(v);
    setEtag(tag ?? `"${v.version}"`);
    setForm(formFrom(v.details));
    setProfileDoc(null);
    setErrors([]);
  };

  const reloadLatest = async () => {
    const fresh = await api.travellerDetails(reference, view.traveller_id);
    accept(fresh.data, fresh.etag);
    void reloadHistory(true);
  };

  const localErrors = (): FieldMessage[] => {
    const out: FieldMessage[] = [];
    const badDate = (path: string) => (document.getElementById(fid(path)) as HTMLInputElement | null)?.validity.badInput ?? false;
    if (badDate("date_of_birth")) out.push({ field: "date_of_birth", detail: "date" });
    const docTouched = form.docNumber.trim() !== "" || form.docCountry !== "" || form.docExpiry !== "";
    if (form.docKind === "" && docTouched) out.push({ field: "travel_document.kind", detail: "kind" });
    if (form.docKind !== "" && (form.docExpiry === "" || badDate("travel_document.expiry_date")))
      out.push({ field: "travel_document.expiry_date", detail: "date" });
    return out;
  };

  const showErrors = (list: FieldMessage[]) => {
    setErrors(list);
    setErrorTick((n) => n + 1);
  };

  const save = async () => {
    setMessage(null);
    const local = localErrors();
    if (local.length > 0) {
      showErrors(local);
      return;
    }
    setBusy(true);
    try {
      const r = await api.saveTravellerDetails(reference, view.traveller_id, inputFrom(form, profileDoc !== null), etag);
      accept(r.data, r.etag);
      say({
        kind: r.data.warnings.length > 0 ? "info" : "success",
        text: t("details.saved", { name, percent: percentText(r.data.percent, locale) }),
        items: r.data.warnings.length > 0 ? r.data.warnings.map((w) => messageFor(w, list, i18n, true)) : undefined,
      });
      void reloadHistory(true);
    } catch (e) {
      const errs = fieldErrors(e);
      if (errs.length > 0) showErrors(errs);
      else if (e instanceof ApiError && e.status === 412) {
        await reloadLatest().catch(() => undefined);
        say({ kind: "error", text: t("details.stale") });
      } else say({ kind: "error", text: errorText(e, t) });
    } finally {
      setBusy(false);
    }
  };

  const restore = async (version: number) => {
    setMessage(null);
    setBusy(true);
    try {
      const r = await api.restoreTravellerDetails(reference, view.traveller_id, version, etag);
      accept(r.data, r.etag);
      say({ kind: "success", text: t("details.restored", { version }) });
      void reloadHistory(true);
    } catch (e) {
      const errs = fieldErrors(e);
      if (errs.length > 0) {
        say({
          kind: "error",
          text: t("details.restoreFailed", { version }),
          items: errs.map((x) => `${labelOf(inputPath(x.field))}: ${messageFor(x, list, i18n)}`),
        });
      } else if (e instanceof ApiError && e.status === 412) {
        await reloadLatest().catch(() => undefined);
        say({ kind: "error", text: t("details.stale") });
      } else say({ kind: "error", text: errorText(e, t) });
    } finally {
      setBusy(false);
    }
  };

  const useSuggestion = () => {
    const s = view.suggestion;
    if (!s) return;
    const f = formFrom(s.details);
    setForm(f);
    setProfileDoc(s.details.travel_document?.number_masked ?? null);
    setSuggestionUsed(true);
    say({ kind: "info", text: t("details.suggestionUsed") });
  };

  const labels: Record<string, string> = {
    "legal_name.given_names": t("details.givenNames"),
    "legal_name.surname": t("details.surname"),
    date_of_birth: t("details.dateOfBirth"),
    nationality: t("details.nationality"),
    "travel_document.kind": t("details.documentKind"),
    "travel_document.number": t("details.documentNumber"),
    "travel_document.issuing_country": t("details.issuingCountry"),
    "travel_document.expiry_date": t("details.expiryDate"),
    dietary_requirements: t("details.dietary"),
    allergies: t("details.allergies"),
    mobility_notes: t("details.mobility"),
    medical_notes: t("details.medical"),
    "emergency_contact.name": t("details.emergencyName"),
    "emergency_contact.relation": t("details.emergencyRelation"),
    "emergency_contact.phone": t("details.emergencyPhone"),
    phone: t("details.phone"),
    "address.lines[0]": t("details.addressLine", { n: 1 }),
    "address.lines[1]": t("details.addressLine", { n: 2 }),
    "address.lines[2]": t("details.addressLine", { n: 3 }),
    "address.city": t("details.city"),
    "address.postcode": t("details.postcode"),
    "address.region": t("details.region"),
    "address.country": t("details.country"),
    "preferences.marketing_email": t("details.preferences"),
    "preferences.sms": t("details.preferences"),
  };
  function labelOf(path: string): string {
    return labels[path] ?? fieldWord(path.split(".")[0] ?? path, t);
  }

  // Each error once per input (the first message wins), in the API's order.
  const byInput = useMemo(() => {
    const m = new Map<string, string>();
    for (const e of errors) {
      const p = inputPath(e.field);
      if (!m.has(p)) m.set(p, messageFor(e, list, i18n));
    }
    return m;
  }, [errors, list, i18n]);

  const masked = profileDoc ?? view.details.travel_document?.number_masked ?? null;
  const numberHint = masked
    ? profileDoc
      ? t("details.numberKeepProfile", { masked })
      : t("details.numberKeep", { masked })
    : undefined;
  const req = (f: Schemas["DetailsField"]) => required.has(f);
  const common = (path: string) => ({ path, label: labels[path] ?? path, error: byInput.get(path) });

  return (
    <div class="details-form">
      <PageHeading>{t("details.formTitle", { name })}</PageHeading>
      <Progress
        value={view.percent}
        label={t("details.progress", { percent: percentText(view.percent, locale) })}
        testId="traveller-percent"
      />
      <p class={view.missing.length > 0 ? "warn" : "ok"} data-testid="traveller-missing">
        {view.missing.length > 0 ? t("details.stillNeeded", { fields: fieldList(view.missing, i18n) }) : t("details.allDone")}
      </p>
      {view.updated_at && (
        <p class="muted">{t("details.lastSaved", { when: dateTime(view.updated_at, locale), who: whoText(view.updated_by, t) })}</p>
      )}
      <p class="muted">{t("details.requiredNote")}</p>

      {view.suggestion && !suggestionUsed && (
        <section class="card suggestion" aria-labelledby="sugg-h" data-testid="suggestion">
          <h2 id="sugg-h">{t("details.suggestionTitle")}</h2>
          <p>
            {t("details.suggestionText", {
              reference: view.suggestion.from_reference,
              date: dateTime(view.suggestion.saved_at, locale),
            })}
          </p>
          <button type="button" class="secondary" onClick={useSuggestion}>
            {t("details.suggestionUse")}
          </button>
        </section>
      )}

      {message && (
        <div
          ref={notice}
          class={`notice ${message.kind}`}
          role={message.kind === "error" ? "alert" : "status"}
          tabIndex={-1}
          data-testid="details-message"
        >
          <p>{message.text}</p>
          {message.items && (
            <ul>
              {message.items.map((x, i) => (
                <li key={i}>{x}</li>
              ))}
            </ul>
          )}
          {message.kind !== "error" && (
            <p>
              <a href={`${base}/travellers`}>{t("details.back")}</a>
            </p>
          )}
        </div>
      )}

      {errors.length > 0 && (
        <div ref={summary} class="notice error summary" role="alert" tabIndex={-1} aria-labelledby="errors-h" data-testid="error-summary">
          <h2 id="errors-h">{tp("details.errorsTitle", byInput.size)}</h2>
          <ul>
            {[...byInput.entries()].map(([path, text]) => (
              <li key={path}>
                <a
                  href={`#${fid(path)}`}
                  onClick={(e) => {
                    const el = document.getElementById(fid(path));
                    if (!el) return;
                    e.preventDefault();
                    el.focus();
                  }}
                >
                  {labelOf(path)}: {text}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}

      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) void save();
        }}
      >
        <fieldset>
          <legend>
            {t("details.legalName")}
            <Req on={req("legal_name")} />
          </legend>
          <p id="td-name-hint" class="muted">
            {t("details.nameHint")}
          </p>
          <TextField
            {...common("legal_name.given_names")}
            value={form.given}
            onInput={(v) => set("given", v)}
            required={req("legal_name")}
            autoComplete="given-name"
            describedBy="td-name-hint"
          />
          <TextField
            {...common("legal_name.surname")}
            value={form.surname}
            onInput={(v) => set("surname", v)}
            required={req("legal_name")}
            autoComplete="family-name"
            describedBy="td-name-hint"
          />
        </fieldset>

        <fieldset>
          <legend>{t("details.personal")}</legend>
          <TextField
            {...common("date_of_birth")}
            type="date"
            value={form.dob}
            onInput={(v) => set("dob", v)}
            required={req("date_of_birth")}
            autoComplete="bday"
          />
          <CountrySelect
            {...common("nationality")}
            value={form.nationality}
            onChange={(v) => set("nationality", v)}
            required={req("nationality")}
            countries={countries}
          />
        </fieldset>

        <fieldset>
          <legend>
            {t("details.document")}
            <Req on={req("travel_document")} />
          </legend>
          <SelectField
            {...common("travel_document.kind")}
            value={form.docKind}
            onChange={(v) => set("docKind", v as DocKind)}
            required={req("travel_document")}
          >
            <option value="">{t("details.noDocument")}</option>
            <option value="passport">{t("details.passport")}</option>
            <option value="national_id">{t("details.nationalId")}</option>
          </SelectField>
          {form.docKind !== "" && (
            <>
              <TextField
                {...common("travel_document.number")}
                value={form.docNumber}
                onInput={(v) => set("docNumber", v)}
                required={req("travel_document") && !masked}
                hint={numberHint}
                autoComplete="off"
                spellCheck={false}
              />
              <CountrySelect
                {...common("travel_document.issuing_country")}
                value={form.docCountry}
                onChange={(v) => set("docCountry", v)}
                required={req("travel_document")}
                countries={countries}
              />
              <TextField
                {...common("travel_document.expiry_date")}
                type="date"
                value={form.docExpiry}
                onInput={(v) => set("docExpiry", v)}
                required={req("travel_document")}
                hint={t("details.validUntilHint", { date: isoDate(validUntil(list), locale) })}
              />
            </>
          )}
        </fieldset>

        <fieldset>
          <legend>{t("details.health")}</legend>
          <NoteField
            {...common("dietary_requirements")}
            value={form.dietary}
            none={form.dietaryNone}
            noneLabel={t("details.noneDietary")}
            onInput={(v) => set("dietary", v)}
            onNone={(v) => set("dietaryNone", v)}
            required={req("dietary_requirements")}
          />
          <NoteField
            {...common("allergies")}
            value={form.allergies}
            none={form.allergiesNone}
            noneLabel={t("details.noneAllergies")}
            onInput={(v) => set("allergies", v)}
            onNone={(v) => set("allergiesNone", v)}
            required={req("allergies")}
          />
          <NoteField
            {...common("mobility_notes")}
            value={form.mobility}
            none={form.mobilityNone}
            noneLabel={t("details.noneMobility")}
            onInput={(v) => set("mobility", v)}
            onNone={(v) => set("mobilityNone", v)}
            required={req("mobility_notes")}
          />
          <NoteField
            {...common("medical_notes")}
            value={form.medical}
            none={form.medicalNone}
            noneLabel={t("details.noneMedical")}
            onInput={(v) => set("medical", v)}
            onNone={(v) => set("medicalNone", v)}
            required={req("medical_notes")}
            hint={t("details.medicalHint")}
          />
        </fieldset>

        <fieldset>
          <legend>
            {t("details.emergency")}
            <Req on={req("emergency_contact")} />
          </legend>
          <p id="td-ec-hint" class="muted">
            {t("details.emergencyHint")}
          </p>
          <TextField
            {...common("emergency_contact.name")}
            value={form.ecName}
            onInput={(v) => set("ecName", v)}
            required={req("emergency_contact")}
            autoComplete="off"
            describedBy="td-ec-hint"
          />
          <TextField
            {...common("emergency_contact.relation")}
            value={form.ecRelation}
            onInput={(v) => set("ecRelation", v)}
            required={req("emergency_contact")}
            autoComplete="off"
          />
          <TextField
            {...common("emergency_contact.phone")}
            type="tel"
            value={form.ecPhone}
            onInput={(v) => set("ecPhone", v)}
            required={req("emergency_contact")}
            autoComplete="off"
            hint={t("details.phoneHint")}
          />
        </fieldset>

        <fieldset>
          <legend>{t("details.contact")}</legend>
          <TextField
            {...common("phone")}
            type="tel"
            value={form.phone}
            onInput={(v) => set("phone", v)}
            required={req("phone")}
            autoComplete="tel"
            hint={t("details.phoneHint")}
          />
          <fieldset class="nested">
            <legend>
              {t("details.address")}
              <Req on={req("address")} />
            </legend>
            <TextField
              {...common("address.lines[0]")}
              value={form.line0}
              onInput={(v) => set("line0", v)}
              required={req("address")}
              autoComplete="address-line1"
            />
            <TextField {...common("address.lines[1]")} value={form.line1} onInput={(v) => set("line1", v)} autoComplete="address-line2" />
            <TextField {...common("address.lines[2]")} value={form.line2} onInput={(v) => set("line2", v)} autoComplete="address-line3" />
            <TextField
              {...common("address.city")}
              value={form.city}
              onInput={(v) => set("city", v)}
              required={req("address")}
              autoComplete="address-level2"
            />
            <TextField {...common("address.postcode")} value={form.postcode} onInput={(v) => set("postcode", v)} autoComplete="postal-code" />
            <TextField {...common("address.region")} value={form.region} onInput={(v) => set("region", v)} autoComplete="address-level1" />
            <CountrySelect
              {...common("address.country")}
              value={form.country}
              onChange={(v) => set("country", v)}
              required={req("address")}
              countries={countries}
            />
          </fieldset>
        </fieldset>

        <fieldset>
          <legend>{t("details.preferences")}</legend>
          <p id="td-pref-hint" class="muted">
            {t("details.preferencesHint")}
          </p>
          <Check
            path="preferences.marketing_email"
            checked={form.marketing}
            onChange={(v) => set("marketing", v)}
            error={byInput.get("preferences.marketing_email")}
            describedBy="td-pref-hint"
          >
            {list.consent.marketing_email.text}
          </Check>
          <Check
            path="preferences.sms"
            checked={form.sms}
            onChange={(v) => set("sms", v)}
            error={byInput.get("preferences.sms")}
            describedBy="td-pref-hint"
          >
            {list.consent.sms.text}
          </Check>
        </fieldset>

        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("details.saving") : t("details.save")}
        </button>
      </form>

      <History
        history={history.state === "ok" ? history.data : null}
        busy={busy}
        restore={(v) => void restore(v)}
        countries={countries}
      />

      <YourData reference={reference} view={view} name={name} onChange={setView} />

      <p>
        <a href={`${base}/travellers`}>{t("details.back")}</a>
        {" · "}
        <a href={base}>{t("app.backToBooking")}</a>
      </p>
    </div>
  );
}

function whoText(by: string | null | undefined, t: I18n["t"]): string {
  if (by === "customer" || by === "operator" || by === "system") return t(`details.by.${by}`);
  return by ?? "";
}

function Req({ on }: { on: boolean }) {
  const { t } = useI18n();
  return on ? <span class="req"> ({t("details.required")})</span> : null;
}

interface FieldProps {
  path: string;
  label: string;
  error: string | undefined;
  required?: boolean;
  hint?: string | undefined;
  describedBy?: string;
}

/** The label, hint and error of one input, and the ARIA that ties them together. */
function useField(p: FieldProps) {
  const id = fid(p.path);
  const hintId = p.hint ? `${id}-hint` : undefined;
  const errId = p.error ? `${id}-error` : undefined;
  const describedBy = [p.describedBy, hintId, errId].filter(Boolean).join(" ") || undefined;
  return {
    id,
    aria: {
      "aria-invalid": p.error ? ("true" as const) : undefined,
      "aria-describedby": describedBy,
      "aria-required": p.required ? ("true" as const) : undefined,
    },
    label: (
      <label for={id}>
        {p.label}
        <Req on={!!p.required} />
      </label>
    ),
    below: (
      <>
        {p.hint && (
          <p id={hintId} class="muted hint">
            {p.hint}
          </p>
        )}
        {p.error && (
          <p id={errId} class="field-error">
            {p.error}
          </p>
        )}
      </>
    ),
  };
}

function TextField(
  p: FieldProps & {
    value: string;
    onInput: (v: string) => void;
    type?: "text" | "date" | "tel";
    autoComplete?: string;
    spellCheck?: boolean;
  },
) {
  const f = useField(p);
  return (
    <div class={p.error ? "field invalid" : "field"}>
      {f.label}
      <input
        id={f.id}
        name={p.path}
        type={p.type ?? "text"}
        value={p.value}
        autoComplete={p.autoComplete}
        spellcheck={p.spellCheck}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        {...f.aria}
      />
      {f.below}
    </div>
  );
}

function SelectField(p: FieldProps & { value: string; onChange: (v: string) => void; children: ComponentChildren }) {
  const f = useField(p);
  return (
    <div class={p.error ? "field invalid" : "field"}>
      {f.label}
      <select id={f.id} name={p.path} value={p.value} onChange={(e) => p.onChange(e.currentTarget.value)} {...f.aria}>
        {p.children}
      </select>
      {f.below}
    </div>
  );
}

function CountrySelect(p: FieldProps & { value: string; onChange: (v: string) => void; countries: Country[] }) {
  const { t } = useI18n();
  return (
    <SelectField {...p}>
      <option value="">{t("details.chooseCountry")}</option>
      {p.countries.map((c) => (
        <option key={c.code} value={c.code}>
          {c.name}
        </option>
      ))}
    </SelectField>
  );
}

/** A free-text answer with its own "none" box: an empty text is "not answered", the box is the answer "none". */
function NoteField(
  p: FieldProps & {
    value: string;
    none: boolean;
    noneLabel: string;
    onInput: (v: string) => void;
    onNone: (v: boolean) => void;
  },
) {
  const f = useField(p);
  return (
    <div class={p.error ? "field invalid" : "field"}>
      {f.label}
      <textarea
        id={f.id}
        name={p.path}
        rows={2}
        maxLength={2000}
        value={p.none ? "" : p.value}
        disabled={p.none}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        {...f.aria}
      />
      <label class="check">
        <input type="checkbox" id={`${f.id}-none`} checked={p.none} onChange={(e) => p.onNone(e.currentTarget.checked)} />
        {p.noneLabel}
      </label>
      {f.below}
    </div>
  );
}

function Check(p: {
  path: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  error: string | undefined;
  describedBy?: string;
  children: ComponentChildren;
}) {
  const id = fid(p.path);
  const errId = p.error ? `${id}-error` : undefined;
  return (
    <div class={p.error ? "field invalid" : "field"}>
      <label class="check consent">
        <input
          type="checkbox"
          id={id}
          name={p.path}
          checked={p.checked}
          onChange={(e) => p.onChange(e.currentTarget.checked)}
          aria-invalid={p.error ? "true" : undefined}
          aria-describedby={[p.describedBy, errId].filter(Boolean).join(" ") || undefined}
        />
        <span>{p.children}</span>
      </label>
      {p.error && (
        <p id={errId} class="field-error">
          {p.error}
        </p>
      )}
    </div>
  );
}

/** A history value in words; sensitive values never arrive (only that they changed). */
function showValue(field: string, v: unknown, i18n: I18n): string {
  const { t, locale } = i18n;
  if (v === null || v === undefined) return t("details.notGiven");
  if (v === "") return t("details.none");
  if (typeof v === "boolean") return v ? t("details.yes") : t("details.no");
  if (typeof v === "string") return field === "nationality" ? countryName(v, locale) : v;
  if (typeof v === "number") return String(v);
  if (typeof v !== "object") return JSON.stringify(v);
  const o = v as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" ? o[k] : "");
  switch (field) {
    case "legal_name":
      return `${str("given_names")} ${str("surname")}`.trim();
    case "travel_document":
      return [
        str("kind") === "national_id" ? t("details.nationalId") : t("details.passport"),
        str("issuing_country") && countryName(str("issuing_country"), locale),
        str("expiry_date") && isoDate(str("expiry_date"), locale),
      ]
        .filter(Boolean)
        .join(", ");
    case "emergency_contact":
      return `${str("name")} (${str("relation")}), ${str("phone")}`;
    case "address": {
      const lines = Array.isArray(o.lines) ? (o.lines as unknown[]).filter((l): l is string => typeof l === "string") : [];
      return [...lines, str("city"), str("postcode"), str("region"), str("country") && countryName(str("country"), locale)]
        .filter(Boolean)
        .join(", ");
    }
    case "preferences":
      return t("details.prefValue", {
        email: o.marketing_email ? t("details.yes") : t("details.no"),
        sms: o.sms ? t("details.yes") : t("details.no"),
      });
    default:
      return JSON.stringify(v);
  }
}

function changeName(field: string, t: I18n["t"]): string {
  if (field === "travel_document.number") return t("field.document_number");
  if (field === "preferences") return t("field.preferences");
  return fieldWord(field, t);
}

function History(props: {
  history: Schemas["DetailsHistory"] | null;
  busy: boolean;
  restore: (version: number) => void;
  countries: Country[];
}) {
  const i18n = useI18n();
  const { t, locale } = i18n;
  const versions = props.history?.versions ?? [];
  return (
    <section class="card" aria-labelledby="hist-h" data-testid="history">
      <h2 id="hist-h">{t("details.history")}</h2>
      {props.history === null ? (
        <Loading />
      ) : versions.length === 0 ? (
        <p>{t("details.noHistory")}</p>
      ) : (
        <ol class="versions" reversed>
          {versions.map((v, i) => (
            <li key={v.version} data-testid={`version-${v.version}`}>
              <h3>
                {t("details.version", { version: v.version })}
                {i === 0 && <span class="badge">{t("details.current")}</span>}
              </h3>
              <p class="muted">
                {t("details.versionMeta", { when: dateTime(v.at, locale), who: whoText(v.by, t) })}
                {v.restored_from !== null && <> · {t("details.restoredFrom", { version: v.restored_from })}</>}
              </p>
              {v.changes.length > 0 && (
                <ul class="changes">
                  {v.changes.map((c, j) => (
                    <li key={j}>
                      <strong>{changeName(c.field, t)}</strong>:{" "}
                      {c.sensitive
                        ? t("details.changed")
                        : t("details.changeValue", { before: showValue(c.field, c.before, i18n), after: showValue(c.field, c.after, i18n) })}
                    </li>
                  ))}
                </ul>
              )}
              {i > 0 && (
                <button
                  type="button"
                  class="secondary"
                  disabled={props.busy}
                  aria-label={t("details.restoreLabel", { version: v.version })}
                  onClick={() => props.restore(v.version)}
                >
                  {t("details.restore")}
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function YourData(props: { reference: string; view: DetailsView; name: string; onChange: (v: DetailsView) => void }) {
  const { t, locale } = useI18n();
  const { view } = props;
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState(false);
  const open = view.erasure_request && (view.erasure_request.status === "submitted" || view.erasure_request.status === "in_review");
  const ask = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.requestErasure(props.reference, view.traveller_id, note.trim() ? { note: note.trim() } : {});
      props.onChange({ ...view, erasure_request: r });
      setAsked(true);
    } catch (e) {
      setError(errorText(e, t));
    } finally {
      setBusy(false);
    }
  };
  const er = view.erasure_request;
  return (
    <section class="card" aria-labelledby="data-h" data-testid="your-data">
      <h2 id="data-h">{t("details.yourData")}</h2>
      <p>{t("details.dataIntro", { name: props.name })}</p>
      <ul class="docs">
        <li>
          <a href={travellerExportUrl(props.reference, view.traveller_id, "json")} download={`${props.reference}-${view.traveller_id}.json`}>
            {t("details.downloadJson")}
          </a>
        </li>
        <li>
          <a href={travellerExportUrl(props.reference, view.traveller_id, "pdf")} download={`${props.reference}-${view.traveller_id}.pdf`}>
            {t("details.downloadPdf")}
          </a>
        </li>
      </ul>
      <p>{t("details.erasureIntro")}</p>
      {er && (
        <Notice kind="info" testId="erasure-status" focus={asked}>
          <p>{t("details.erasureStatus", { date: dateTime(er.requested_at, locale), status: t(`details.erasure.${er.status}`) })}</p>
          {er.operator_note && <p>{t("details.erasureOperatorNote", { note: er.operator_note })}</p>}
        </Notice>
      )}
      {!open && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!busy) void ask();
          }}
        >
          <label for="td-erasure-note">{t("details.erasureNote")}</label>
          <textarea id="td-erasure-note" rows={2} maxLength={1000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          <button type="submit" class="secondary" disabled={busy}>
            {t("details.erasureAsk")}
          </button>
        </form>
      )}
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}
