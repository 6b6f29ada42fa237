import { createContext } from "preact";
import { useContext, useEffect } from "preact/hooks";
import type { Brand } from "./brand";
import type { Schemas } from "./api/client";

export type WhoAmI = Schemas["WhoAmI"];

export interface AppState {
  brand: Brand;
  /** Switch to the booking's brand (and, unless the customer chose one, its locale). */
  enterBooking: (brandId: string, locale: string) => void;
  who: WhoAmI | null | undefined;
  setWho: (w: WhoAmI | null) => void;
}

export const AppContext = createContext<AppState>({
  brand: { name: "", primary_colour: "#1f4e79" },
  enterBooking: () => undefined,
  who: undefined,
  setWho: () => undefined,
});
export const useApp = (): AppState => useContext(AppContext);

/** The page title: "<page> · <brand>". */
export function useTitle(title: string): void {
  const { brand } = useApp();
  useEffect(() => {
    document.title = brand.name ? `${title} · ${brand.name}` : title;
  }, [title, brand.name]);
}

const NEXT = "portal.next";
/** Remember where the customer was when their session ended, to return there after signing in. */
export function rememberNext(path: string): void {
  try {
    sessionStorage.setItem(NEXT, path);
  } catch {
    /* not remembered */
  }
}
export function takeNext(reference: string): string {
  let next: string | null = null;
  try {
    next = sessionStorage.getItem(NEXT);
    sessionStorage.removeItem(NEXT);
  } catch {
    next = null;
  }
  // Only back into the booking just signed in to (a path of another booking would answer 404).
  if (next && (next === "/" || next.startsWith(`/trips/${reference}`))) return next;
  return `/trips/${encodeURIComponent(reference)}`;
}

/** A fresh Idempotency-Key. */
export function newKey(): string {
  return crypto.randomUUID();
}
