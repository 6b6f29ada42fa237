// A new amendment request: the type (only those this session may ask for), the type's fields, a message with
// its character count. One Idempotency-Key per form (a double submit or a retry after a lost answer sends one
// request); every error of the API's 422 next to its input, with a summary that takes focus.
import { useMemo, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { api, fieldErrors, type RequestList, type Schemas } from "../api/client";
import { newKey, useTitle } from "../app";
import { ErrorBox, Loading, Notice, PageHeading } from "../components";
import { useI18n, type I18n } from "../i18n";
import { useLoad } from "../load";
import { navigate } from "../router";
import { useOverview } from "./booking";
import {
  ErrorSummary,
  MESSAGE_MAX,
  MessageBox,
  definitelyRefused,
  isoDate,
  messageFor,
  refusalText,
  rqid,
  setFlash,
  type FieldMessage,
  type RequestType,
} from "./request-parts";

type Fields = Schemas["RequestFields"];
type Kind = NonNullable<Fields["kind"]>;
const KINDS: Kind[] = ["mobility", "dietary", "medical", "other"];
const MESSAGE_REQUIRED: RequestType[] = ["service_change", "special_assistance", "other"];

interface Form {
  type: RequestType | "";
  serviceId: string;
  firstName: string;
  lastName: string;
  dob: string;
  travellerId: string;
  newStart: string;
  newEnd: string;
  scope: "" | "booking" | "travellers";
  travellerIds: string[];
  kind: "" | Kind;
  message: string;
}

export function NewRequestPage({ reference }: { reference: string }) {
  const { t } = useI18n();
  useTitle(t("req.newTitle"));
  const [overview] = useOverview(reference);
  const [data, reload] = useLoad(() => api.requests(reference), [reference]);
  if (data.state === "loading") return <Loading />;
  if (data.state === "error") return <ErrorBox error={data.error} retry={() => void reload()} />;
  const lead = overview.state === "ok" ? overview.data.travellers.find((x) => x.is_lead)?.id : undefined;
  return <RequestForm list={data.data} leadId={lead} />;
}

/** The fields the type takes, from the form (an empty input is left out: the API then names it as missing). */
function fieldsFor(f: Form, isLead: boolean, self: string | undefined): Fields {
  const s = (v: string) => (v.trim() === "" ? undefined : v.trim());
  const pick = (o: Record<string, string | string[] | undefined>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Fields;
  switch (f.type) {
    case "service_change":
      return pick({ service_id: s(f.serviceId) });
    case "add_traveller":
      return pick({ first_name: s(f.firstName), last_name: s(f.lastName), date_of_birth: s(f.dob) });
    case "remove_traveller":
      return pick({ traveller_id: s(f.travellerId) });
    case "date_change":
      return pick({ new_start: s(f.newStart), new_end: s(f.newEnd) });
    case "cancellation": {
      // Another traveller can only cancel their own place.
      const scope = isLead ? f.scope : "travellers";
      if (scope === "") return {};
      if (scope === "booking") return { scope };
      return { scope, traveller_ids: isLead ? f.travellerIds : self ? [self] : [] };
    }
    case "special_assistance":
      return pick({ traveller_id: s(f.travellerId), kind: s(f.kind) });
    default:
      return {};
  }
}

/** Where an API error's field is answered: its input's id (a group's first input), or null (summary only). */
function targetOf(path: string, f: Form, allowed: RequestType[], travellerIds: string[], isLead: boolean): string | null {
  const p = path.replace(/\[\d+\]$/, "");
  switch (p) {
    case "type":
      return allowed[0] ? rqid(`type-${f.type || allowed[0]}`) : null;
    case "fields.scope":
      return isLead ? rqid("fields.scope-booking") : null;
    case "fields.traveller_ids":
      return travellerIds[0] && isLead ? rqid(`fields.traveller_ids-${travellerIds[0]}`) : null;
    case "fields.service_id":
    case "fields.first_name":
    case "fields.last_name":
    case "fields.date_of_birth":
    case "fields.traveller_id":
    case "fields.new_start":
    case "fields.new_end":
    case "fields.kind":
    case "message":
      return rqid(p);
    default:
      return null;
  }
}

function RequestForm({ list, leadId }: { list: RequestList; leadId: string | undefined }) {
  const i18n = useI18n();
  const { t, locale } = i18n;
  const c = list.choices;
  const base = `/trips/${encodeURIComponent(list.reference)}`;
  const max = list.limits.message_max_chars || MESSAGE_MAX;
  const allowed = c.types.filter((x) => x.allowed).map((x) => x.type);
  const self = !c.is_lead && c.travellers.length === 1 ? c.travellers[0]?.traveller_id : undefined;
  const [form, setForm] = useState<Form>({
    type: "",
    serviceId: "",
    firstName: "",
    lastName: "",
    dob: "",
    travellerId: self ?? "",
    newStart: "",
    newEnd: "",
    scope: c.is_lead ? "" : "travellers",
    travellerIds: [],
    kind: "",
    message: "",
  });
  const [key, setKey] = useState(newKey); // one per form: a retry of the same submission is answered once
  const [errors, setErrors] = useState<FieldMessage[]>([]);
  const [errorTick, setErrorTick] = useState(0);
  const [alert, setAlert] = useState<string | null>(null);
  const [alertTick, setAlertTick] = useState(0);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  const removable = c.travellers.filter((x) => x.traveller_id !== leadId);
  const labels: Record<string, string> = {
    type: t("req.chooseType"),
    "fields.service_id": t("req.service"),
    "fields.first_name": t("req.firstName"),
    "fields.last_name": t("req.lastName"),
    "fields.date_of_birth": t("req.dateOfBirth"),
    "fields.traveller_id": t("req.traveller"),
    "fields.new_start": t("req.newStart"),
    "fields.new_end": t("req.newEnd"),
    "fields.scope": t("req.scope"),
    "fields.traveller_ids": t("req.whoCancels"),
    "fields.kind": t("req.kind"),
    message: t("req.message"),
  };
  const labelOf = (path: string) => labels[path.replace(/\[\d+\]$/, "")] ?? path;

  // Each error once per input (the first message wins), in the API's order.
  const byPath = useMemo(() => {
    const m = new Map<string, string>();
    for (const e of errors) {
      const p = e.field.replace(/\[\d+\]$/, "");
      if (!m.has(p)) m.set(p, messageFor(e, t));
    }
    return m;
  }, [errors, t]);
  const err = (path: string) => byPath.get(path);

  const showErrors = (list: FieldMessage[]) => {
    setErrors(list);
    setErrorTick((n) => n + 1);
  };

  const localErrors = (): FieldMessage[] => {
    if (form.type === "") return [{ field: "type", detail: "type: required" }];
    const out: FieldMessage[] = [];
    const badDate = (path: string) => (document.getElementById(rqid(path)) as HTMLInputElement | null)?.validity.badInput ?? false;
    for (const p of ["fields.new_start", "fields.new_end", "fields.date_of_birth"]) {
      if (badDate(p)) out.push({ field: p, detail: `${p}: must be a date (YYYY-MM-DD)` });
    }
    return out;
  };

  const submit = async () => {
    setAlert(null);
    const local = localErrors();
    if (local.length > 0 || form.type === "") {
      showErrors(local);
      return;
    }
    const message = form.message.trim();
    setBusy(true);
    try {
      const r = await api.createRequest(
        list.reference,
        { type: form.type, fields: fieldsFor(form, c.is_lead, self), ...(message ? { message: form.message } : {}) },
        key,
      );
      setFlash({
        text: t("req.sent", { role: r.role.name }),
        href: `${base}/requests/${encodeURIComponent(r.request_id)}`,
        linkText: t("req.sentOpen"),
      });
      navigate(`${base}/requests`);
    } catch (e) {
      if (definitelyRefused(e)) setKey(newKey()); // nothing was written: the corrected form is a new submission
      const errs = fieldErrors(e);
      if (errs.length > 0) showErrors(errs);
      else {
        setErrors([]);
        setAlert(refusalText(e, t));
        setAlertTick((n) => n + 1);
      }
    } finally {
      setBusy(false);
    }
  };

  const summary = [...byPath.entries()].map(([path, text]) => ({
    path,
    label: labelOf(path),
    text,
    target: targetOf(path, form, allowed, c.travellers.map((x) => x.traveller_id), c.is_lead),
  }));
  const messageRequired = form.type !== "" && MESSAGE_REQUIRED.includes(form.type);
  const hintKey =
    form.type === "service_change" || form.type === "special_assistance" || form.type === "other"
      ? (`req.messageHint.${form.type}` as const)
      : ("req.messageHint.default" as const);

  return (
    <div class="request-form">
      <PageHeading>{t("req.newTitle")}</PageHeading>
      <p class="lede">{t("req.newIntro")}</p>
      {!c.is_lead && <p data-testid="lead-only-note">{t("req.leadOnlyNote")}</p>}
      {alert && (
        <Notice kind="error" focus={alertTick > 0} key={alertTick} testId="request-alert">
          <p>{alert}</p>
        </Notice>
      )}
      <ErrorSummary items={summary} tick={errorTick} />

      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) void submit();
        }}
      >
        <RadioGroup
          path="type"
          legend={t("req.chooseType")}
          error={err("type")}
          options={allowed.map((k) => ({ value: k, label: t(`req.type.${k}`), hint: t(`req.typeHint.${k}`) }))}
          value={form.type}
          onChange={(v) => {
            set("type", v as RequestType);
            setErrors([]);
          }}
        />

        {form.type !== "" && form.type !== "other" && (
          <fieldset data-testid="request-fields">
            <legend>{t("req.details")}</legend>
            <TypeFields form={form} set={set} list={list} removable={removable} err={err} i18n={i18n} locale={locale} />
          </fieldset>
        )}

        {form.type !== "" && (
          <MessageBox
            path="message"
            label={messageRequired ? t("req.messageRequired") : t("req.messageOptional")}
            hint={t(hintKey)}
            value={form.message}
            onInput={(v) => set("message", v)}
            error={err("message")}
            max={max}
            required={messageRequired}
          />
        )}

        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("req.sending") : t("req.send")}
        </button>
        <a class="button secondary" href={`${base}/requests`}>
          {t("req.cancel")}
        </a>
      </form>
    </div>
  );
}

function TypeFields(p: {
  form: Form;
  set: <K extends keyof Form>(k: K, v: Form[K]) => void;
  list: RequestList;
  removable: RequestList["choices"]["travellers"];
  err: (path: string) => string | undefined;
  i18n: I18n;
  locale: string;
}) {
  const { form, set, list, err } = p;
  const { t } = p.i18n;
  const c = list.choices;
  const travellerOptions = (people: RequestList["choices"]["travellers"]) => [
    ...(people.length === 1 ? [] : [{ value: "", label: t("req.chooseTraveller") }]),
    ...people.map((x) => ({ value: x.traveller_id, label: x.name })),
  ];
  const yesterday = (() => {
    const d = new Date(`${c.today}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() - 1);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString().slice(0, 10);
  })();
  switch (form.type) {
    case "service_change":
      return (
        <Select
          path="fields.service_id"
          label={t("req.service")}
          error={err("fields.service_id")}
          value={form.serviceId}
          onChange={(v) => set("serviceId", v)}
          options={[
            { value: "", label: t("req.chooseService") },
            ...c.services.map((s) => ({
              value: s.service_id,
              label: t("req.serviceOption", { name: s.name, date: isoDate(s.date, p.locale) }),
            })),
          ]}
        />
      );
    case "add_traveller":
      return (
        <>
          <Input path="fields.first_name" label={t("req.firstName")} error={err("fields.first_name")} value={form.firstName} onInput={(v) => set("firstName", v)} autoComplete="off" />
          <Input path="fields.last_name" label={t("req.lastName")} error={err("fields.last_name")} value={form.lastName} onInput={(v) => set("lastName", v)} autoComplete="off" />
          <Input path="fields.date_of_birth" type="date" label={t("req.dateOfBirth")} error={err("fields.date_of_birth")} value={form.dob} onInput={(v) => set("dob", v)} max={yesterday} />
        </>
      );
    case "remove_traveller":
      return (
        <Select
          path="fields.traveller_id"
          label={t("req.traveller")}
          error={err("fields.traveller_id")}
          value={form.travellerId}
          onChange={(v) => set("travellerId", v)}
          options={travellerOptions(p.removable)}
        />
      );
    case "date_change":
      return (
        <>
          <p id="rq-dates-hint" class="muted">
            {t("req.currentDates", { start: isoDate(c.travel_start, p.locale), end: isoDate(c.travel_end, p.locale) })}
          </p>
          <Input
            path="fields.new_start"
            type="date"
            label={t("req.newStart")}
            error={err("fields.new_start")}
            value={form.newStart}
            onInput={(v) => set("newStart", v)}
            min={c.today}
            describedBy="rq-dates-hint"
          />
          <Input
            path="fields.new_end"
            type="date"
            label={t("req.newEnd")}
            error={err("fields.new_end")}
            value={form.newEnd}
            onInput={(v) => set("newEnd", v)}
            min={form.newStart || c.today}
            describedBy="rq-dates-hint"
          />
        </>
      );
    case "cancellation":
      if (!c.is_lead) return <p>{t("req.scope.travellers")}: {c.travellers.map((x) => x.name).join(", ")}</p>;
      return (
        <>
          <RadioGroup
            path="fields.scope"
            legend={t("req.scope")}
            error={err("fields.scope")}
            options={[
              { value: "booking", label: t("req.scope.booking") },
              { value: "travellers", label: t("req.scope.travellers") },
            ]}
            value={form.scope}
            onChange={(v) => set("scope", v as Form["scope"])}
            nested
          />
          {form.scope === "travellers" && (
            <CheckGroup
              path="fields.traveller_ids"
              legend={t("req.whoCancels")}
              error={err("fields.traveller_ids")}
              options={c.travellers.map((x) => ({ value: x.traveller_id, label: x.name }))}
              values={form.travellerIds}
              onChange={(v) => set("travellerIds", v)}
            />
          )}
        </>
      );
    case "special_assistance":
      return (
        <>
          <Select
            path="fields.traveller_id"
            label={t("req.traveller")}
            error={err("fields.traveller_id")}
            value={form.travellerId}
            onChange={(v) => set("travellerId", v)}
            options={travellerOptions(c.travellers)}
          />
          <Select
            path="fields.kind"
            label={t("req.kind")}
            error={err("fields.kind")}
            value={form.kind}
            onChange={(v) => set("kind", v as Form["kind"])}
            options={[{ value: "", label: t("req.chooseKind") }, ...KINDS.map((k) => ({ value: k, label: t(`req.kind.${k}`) }))]}
          />
        </>
      );
    default:
      return null;
  }
}

function aria(path: string, error: string | undefined, describedBy?: string) {
  const id = rqid(path);
  return {
    id,
    errId: error ? `${id}-error` : undefined,
    attrs: {
      "aria-invalid": error ? ("true" as const) : undefined,
      "aria-describedby": [describedBy, error ? `${id}-error` : undefined].filter(Boolean).join(" ") || undefined,
    },
  };
}

function FieldError({ id, text }: { id: string | undefined; text: string | undefined }) {
  return text && id ? (
    <p id={id} class="field-error">
      {text}
    </p>
  ) : null;
}

function Input(p: {
  path: string;
  label: string;
  error: string | undefined;
  value: string;
  onInput: (v: string) => void;
  type?: "text" | "date";
  min?: string | undefined;
  max?: string | undefined;
  autoComplete?: string;
  describedBy?: string;
}) {
  const a = aria(p.path, p.error, p.describedBy);
  return (
    <div class={p.error ? "field invalid" : "field"}>
      <label for={a.id}>{p.label}</label>
      <input
        id={a.id}
        name={p.path}
        type={p.type ?? "text"}
        value={p.value}
        min={p.min}
        max={p.max}
        autoComplete={p.autoComplete}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        {...a.attrs}
      />
      <FieldError id={a.errId} text={p.error} />
    </div>
  );
}

function Select(p: {
  path: string;
  label: string;
  error: string | undefined;
  value: string;
  onChange: (v: string) => void;
  options: { value: string; label: string }[];
}) {
  const a = aria(p.path, p.error);
  return (
    <div class={p.error ? "field invalid" : "field"}>
      <label for={a.id}>{p.label}</label>
      <select id={a.id} name={p.path} value={p.value} onChange={(e) => p.onChange(e.currentTarget.value)} {...a.attrs}>
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldError id={a.errId} text={p.error} />
    </div>
  );
}

/** A radio group (one Tab stop, the arrow keys choose), its error under the legend. */
function RadioGroup(p: {
  path: string;
  legend: string;
  error: string | undefined;
  options: { value: string; label: string; hint?: string }[];
  value: string;
  onChange: (v: string) => void;
  nested?: boolean;
}) {
  const id = rqid(p.path);
  const errId = p.error ? `${id}-error` : undefined;
  return (
    <Group legend={p.legend} error={p.error} errId={errId} nested={p.nested}>
      {p.options.map((o) => {
        const oid = rqid(`${p.path}-${o.value}`);
        return (
          <div key={o.value} class="choice">
            <label class="check" for={oid}>
              <input
                type="radio"
                id={oid}
                name={p.path}
                value={o.value}
                checked={p.value === o.value}
                onChange={() => p.onChange(o.value)}
                aria-invalid={p.error ? "true" : undefined}
                aria-describedby={[o.hint ? `${oid}-hint` : undefined, errId].filter(Boolean).join(" ") || undefined}
              />
              <span>{o.label}</span>
            </label>
            {o.hint && (
              <p id={`${oid}-hint`} class="muted hint choice-hint">
                {o.hint}
              </p>
            )}
          </div>
        );
      })}
    </Group>
  );
}

function CheckGroup(p: {
  path: string;
  legend: string;
  error: string | undefined;
  options: { value: string; label: string }[];
  values: string[];
  onChange: (v: string[]) => void;
}) {
  const id = rqid(p.path);
  const errId = p.error ? `${id}-error` : undefined;
  return (
    <Group legend={p.legend} error={p.error} errId={errId} nested>
      {p.options.map((o) => {
        const oid = rqid(`${p.path}-${o.value}`);
        return (
          <label key={o.value} class="check" for={oid}>
            <input
              type="checkbox"
              id={oid}
              name={p.path}
              value={o.value}
              checked={p.values.includes(o.value)}
              onChange={(e) => {
                const on = e.currentTarget.checked;
                p.onChange(on ? [...p.values.filter((v) => v !== o.value), o.value] : p.values.filter((v) => v !== o.value));
              }}
              aria-invalid={p.error ? "true" : undefined}
              aria-describedby={errId}
            />
            <span>{o.label}</span>
          </label>
        );
      })}
    </Group>
  );
}

function Group(p: { legend: string; error: string | undefined; errId: string | undefined; nested?: boolean | undefined; children: ComponentChildren }) {
  return (
    <fieldset class={[p.nested ? "nested-group" : "", p.error ? "invalid" : ""].filter(Boolean).join(" ") || undefined}>
      <legend>{p.legend}</legend>
      {p.error && (
        <p id={p.errId} class="field-error">
          {p.error}
        </p>
      )}
      {p.children}
    </fieldset>
  );
}
