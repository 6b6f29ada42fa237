// The portal API, typed from docs/openapi.json (src/api/schema.d.ts is generated at build time by
// openapi-typescript): each call names its operationId, so an API change the app does not follow fails tsc.
import type { components, operations } from "./schema";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

type Json<Op extends keyof operations, Status extends number> = operations[Op]["responses"] extends infer R
  ? Status extends keyof R
    ? R[Status] extends { content: { "application/json": infer B } }
      ? B
      : R[Status] extends { content: { "application/problem+json": infer B } }
        ? B
        : never
    : never
  : never;
type Body<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

/** An answer that is not 2xx, with its problem+json body when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> | null,
  ) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
  }
}

/** Raised for 401 anywhere: the app sends the customer to sign-in and back to where they were. */
let onUnauthorised: (() => void) | null = null;
export function setUnauthorisedHandler(f: () => void): void {
  onUnauthorised = f;
}

let acceptLanguage: string | null = null;
/** The locale display strings come in; null leaves the browser's own Accept-Language (the API then falls
 * back to the booking's locale when it does not speak any of them). */
export function setApiLocale(tag: string | null): void {
  acceptLanguage = tag;
}

interface Options {
  body?: unknown;
  idempotencyKey?: string;
  /** 401 is expected (e.g. "am I signed in?"): do not redirect. */
  quiet401?: boolean;
  /** Optimistic concurrency: the ETag the change is based on. */
  ifMatch?: string;
}

/** An answer with the ETag it came with (the version to send back as If-Match). */
export interface Tagged<T> {
  data: T;
  etag: string | null;
}

async function call<T>(method: string, path: string, opts: Options = {}): Promise<T> {
  return (await callTagged<T>(method, path, opts)).data;
}

async function callTagged<T>(method: string, path: string, opts: Options = {}): Promise<Tagged<T>> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (acceptLanguage) headers["accept-language"] = acceptLanguage;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (opts.idempotencyKey) headers["idempotency-key"] = opts.idempotencyKey;
  if (opts.ifMatch) headers["if-match"] = opts.ifMatch;
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
    });
  } catch {
    throw new ApiError(0, { title: "network", detail: "network" });
  }
  const text = await resp.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!resp.ok) {
    if (resp.status === 401 && !opts.quiet401 && onUnauthorised) onUnauthorised();
    throw new ApiError(resp.status, (parsed as Partial<Problem> | null) ?? null);
  }
  return { data: parsed as T, etag: resp.headers.get("etag") };
}

const seg = encodeURIComponent;

export const api = {
  requestLink: (body: Body<"requestMagicLink">) =>
    call<Json<"requestMagicLink", 202>>("POST", "/auth/magic-links", { body }),
  createSession: (body: Body<"createSession">) =>
    call<Json<"createSession", 201>>("POST", "/auth/sessions", { body, quiet401: true }),
  currentSession: () => call<Json<"getCurrentSession", 200>>("GET", "/auth/sessions/current", { quiet401: true }),
  signOut: () => call<unknown>("DELETE", "/auth/sessions/current", { quiet401: true }),
  signOutEverywhere: () => call<Json<"deleteAllSessions", 200>>("DELETE", "/auth/sessions", { quiet401: true }),
  bookings: () => call<Json<"listBookings", 200>>("GET", "/bookings"),
  booking: (ref: string) => call<Json<"getBooking", 200>>("GET", `/bookings/${seg(ref)}`),
  documentUrl: (ref: string, documentId: string, version: number) =>
    call<Json<"getDocumentUrl", 200>>(
      "GET",
      `/bookings/${seg(ref)}/documents/${seg(documentId)}/url?version=${version}`,
    ),
  createPayment: (ref: string, body: Body<"createPayment">, idempotencyKey: string) =>
    call<Json<"createPayment", 201>>("POST", `/bookings/${seg(ref)}/payments`, { body, idempotencyKey }),
  paymentMethods: (ref: string) => call<Json<"listPaymentMethods", 200>>("GET", `/bookings/${seg(ref)}/payment-methods`),
  setupCard: (ref: string, idempotencyKey: string) =>
    call<Json<"setUpPaymentMethod", 201>>("POST", `/bookings/${seg(ref)}/payment-methods`, { idempotencyKey }),
  approveOne: (ref: string, id: string, body: Body<"approveInstalment">, idempotencyKey: string) =>
    call<Json<"approveInstalment", 200>>("POST", `/bookings/${seg(ref)}/instalments/${seg(id)}/approval`, {
      body,
      idempotencyKey,
    }),
  withdraw: (ref: string, id: string, idempotencyKey: string) =>
    call<Json<"withdrawInstalmentApproval", 200>>("DELETE", `/bookings/${seg(ref)}/instalments/${seg(id)}/approval`, {
      idempotencyKey,
    }),
  approveAll: (ref: string, body: Body<"approveAllInstalments">, idempotencyKey: string) =>
    call<Json<"approveAllInstalments", 200>>("POST", `/bookings/${seg(ref)}/instalments/approval`, {
      body,
      idempotencyKey,
    }),
  travellerDetailsList: (ref: string) =>
    call<Json<"listTravellerDetails", 200>>("GET", `/bookings/${seg(ref)}/traveller-details`),
  travellerDetails: (ref: string, id: string) =>
    callTagged<Json<"getTravellerDetails", 200>>("GET", `/bookings/${seg(ref)}/traveller-details/${seg(id)}`),
  saveTravellerDetails: (ref: string, id: string, body: Body<"putTravellerDetails">, ifMatch: string) =>
    callTagged<Json<"putTravellerDetails", 200>>("PUT", `/bookings/${seg(ref)}/traveller-details/${seg(id)}`, {
      body,
      ifMatch,
    }),
  travellerDetailsHistory: (ref: string, id: string) =>
    call<Json<"getTravellerDetailsHistory", 200>>("GET", `/bookings/${seg(ref)}/traveller-details/${seg(id)}/history`),
  restoreTravellerDetails: (ref: string, id: string, version: number, ifMatch: string) =>
    callTagged<Json<"restoreTravellerDetails", 200>>(
      "POST",
      `/bookings/${seg(ref)}/traveller-details/${seg(id)}/history/${version}/restore`,
      { ifMatch },
    ),
  requestErasure: (ref: string, id: string, body: Body<"requestTravellerDetailsErasure">) =>
    call<Json<"requestTravellerDetailsErasure", 202>>(
      "POST",
      `/bookings/${seg(ref)}/traveller-details/${seg(id)}/erasure-request`,
      { body },
    ),
  requests: (ref: string) => call<Json<"listRequests", 200>>("GET", `/bookings/${seg(ref)}/requests`),
  createRequest: (ref: string, body: Body<"createRequest">, idempotencyKey: string) =>
    call<Json<"createRequest", 201>>("POST", `/bookings/${seg(ref)}/requests`, { body, idempotencyKey }),
  request: (ref: string, id: string) => call<Json<"getRequest", 200>>("GET", `/bookings/${seg(ref)}/requests/${seg(id)}`),
  replyToRequest: (ref: string, id: string, body: Body<"postRequestMessage">, idempotencyKey: string) =>
    call<Json<"postRequestMessage", 201>>("POST", `/bookings/${seg(ref)}/requests/${seg(id)}/messages`, {
      body,
      idempotencyKey,
    }),
  withdrawRequest: (ref: string, id: string, body: Body<"withdrawRequest">) =>
    call<Json<"withdrawRequest", 200>>("POST", `/bookings/${seg(ref)}/requests/${seg(id)}/withdraw`, { body }),
  generalThread: (ref: string) => call<Json<"getGeneralThread", 200>>("GET", `/bookings/${seg(ref)}/messages`),
  postGeneralMessage: (ref: string, body: Body<"postGeneralMessage">, idempotencyKey: string) =>
    call<Json<"postGeneralMessage", 201>>("POST", `/bookings/${seg(ref)}/messages`, { body, idempotencyKey }),
  communicationPreferences: (ref: string) =>
    call<Json<"getCommunicationPreferences", 200>>("GET", `/bookings/${seg(ref)}/communication-preferences`),
  saveCommunicationPreferences: (ref: string, body: Body<"putCommunicationPreferences">) =>
    call<Json<"putCommunicationPreferences", 200>>("PUT", `/bookings/${seg(ref)}/communication-preferences`, { body }),
};

/** Where the export of one traveller's data downloads from (a plain link: the browser sends the cookie). */
export function travellerExportUrl(ref: string, id: string, format: "json" | "pdf"): string {
  const path = `/bookings/${seg(ref)}/traveller-details/${seg(id)}/export`;
  return format === "pdf" ? `${path}?format=pdf` : path;
}

/** The `errors` of a 422 (traveller details, requests, messages: each names its field). */
export function fieldErrors(e: unknown): Schemas["DetailsFieldMessage"][] {
  if (!(e instanceof ApiError) || e.status !== 422) return [];
  const body = e.problem as { errors?: unknown } | null;
  const errors = Array.isArray(body?.errors)
    ? (body.errors as unknown[]).filter(
        (x): x is Schemas["DetailsFieldMessage"] =>
          typeof x === "object" && x !== null && typeof (x as { field?: unknown }).field === "string",
      )
    : [];
  if (errors.length > 0) return errors;
  // A 422 naming only its first field.
  return e.problem?.field ? [{ field: e.problem.field, detail: e.problem.detail ?? "" }] : [];
}

export type Overview = Schemas["BookingOverview"];
export type CheckoutRequest = Schemas["CheckoutRequest"];
export type CheckoutResponse = Schemas["CheckoutResponse"];
export type DetailsList = Schemas["TravellerDetailsList"];
export type DetailsView = Schemas["TravellerDetailsView"];
export type DetailsField = Schemas["DetailsField"];
export type RequestList = Schemas["RequestList"];
export type AmendmentRequest = Schemas["AmendmentRequest"];
export type MessageView = Schemas["MessageView"];
export type GeneralThread = Schemas["GeneralThread"];
