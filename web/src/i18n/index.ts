// Locale choice and message lookup. Money and dates arrive formatted by the API (the same CLDR data the
// emails and PDFs use, negotiated from the Accept-Language the app sends); plural categories come from the
// browser's Intl.PluralRules (CLDR too). Nothing here hand-writes a locale rule.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { enGB, type Catalogue, type MessageKey } from "./en-GB";
import { enUS } from "./en-US";

export const LOCALES = ["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL", "ja-JP"] as const;
export type Locale = (typeof LOCALES)[number];

/** Each locale's own name for the switcher (endonyms are not translated). */
export const LOCALE_NAMES: Record<Locale, string> = {
  "en-GB": "English (UK)",
  "en-US": "English (US)",
  "de-DE": "Deutsch",
  "fr-FR": "Français",
  "nl-NL": "Nederlands",
  "ja-JP": "日本語",
};

// English is in the app's bundle; every other catalogue is a chunk of its own, fetched when that locale is
// first wanted (a customer reads one language: the first load carries one catalogue, not six).
const CATALOGUES: Partial<Record<Locale, Catalogue>> = { "en-GB": enGB, "en-US": enUS };
const CHUNKS: Record<Exclude<Locale, "en-GB" | "en-US">, () => Promise<Catalogue>> = {
  "de-DE": () => import("./de-DE").then((m) => m.deDE),
  "fr-FR": () => import("./fr-FR").then((m) => m.frFR),
  "nl-NL": () => import("./nl-NL").then((m) => m.nlNL),
  "ja-JP": () => import("./ja-JP").then((m) => m.jaJP),
};
const loading: Partial<Record<Locale, Promise<Catalogue>>> = {};

/** The catalogue of `l` if it is already here (English always is). */
export function catalogueNow(l: Locale): Catalogue | undefined {
  return CATALOGUES[l];
}

/** The catalogue of `l`, fetched once; a failed fetch (offline) can be asked again. */
export function loadCatalogue(l: Locale): Promise<Catalogue> {
  const ready = CATALOGUES[l];
  if (ready) return Promise.resolve(ready);
  const pending =
    loading[l] ??
    CHUNKS[l as keyof typeof CHUNKS]().then(
      (c) => (CATALOGUES[l] = c),
      (e: unknown) => {
        delete loading[l];
        throw e;
      },
    );
  loading[l] = pending;
  return pending;
}

const STORED = "portal.locale";

/** A supported locale for a BCP 47 tag: exact, else the first with the same language. */
export function matchLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  const lower = tag.toLowerCase();
  const exact = LOCALES.find((l) => l.toLowerCase() === lower);
  if (exact) return exact;
  const lang = lower.split("-")[0];
  return LOCALES.find((l) => l.toLowerCase().startsWith(`${lang}-`)) ?? null;
}

/** The customer's explicit choice, else the first of the browser's languages the portal speaks; null when
 * neither (then the booking's own locale decides, see `followsBooking`). */
export function preferredLocale(): Locale | null {
  const stored = matchLocale(safeGet(STORED));
  if (stored) return stored;
  for (const l of navigator.languages ?? []) {
    const m = matchLocale(l);
    if (m) return m;
  }
  return null;
}

export function rememberLocale(l: Locale): void {
  try {
    localStorage.setItem(STORED, l);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

function safeGet(k: string): string | null {
  try {
    return localStorage.getItem(k);
  } catch {
    return null;
  }
}

export type Params = Record<string, string | number>;

export interface I18n {
  locale: Locale;
  t: (key: MessageKey, params?: Params) => string;
  /** A plural entry for `count` (also available as `{count}`). */
  tp: (key: MessageKey, count: number, params?: Params) => string;
}

function fill(s: string, params: Params | undefined): string {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

/** Messages of `locale` (its catalogue must be loaded: see `loadCatalogue`; English until it is). */
export function makeI18n(locale: Locale): I18n {
  const cat = CATALOGUES[locale] ?? enGB;
  const rules = new Intl.PluralRules(locale);
  const number = new Intl.NumberFormat(locale);
  return {
    locale,
    t(key, params) {
      const v = cat[key];
      return fill(typeof v === "string" ? v : v.other, params);
    },
    tp(key, count, params) {
      const v = cat[key];
      const s = typeof v === "string" ? v : ((v as Partial<Record<Intl.LDMLPluralRule, string>>)[rules.select(count)] ?? v.other);
      return fill(s, { ...params, count: number.format(count) });
    },
  };
}

export const I18nContext = createContext<I18n>(makeI18n("en-GB"));
export const useI18n = (): I18n => useContext(I18nContext);
export type { MessageKey };
