import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export type Loaded<T> = { state: "loading" } | { state: "error"; error: unknown } | { state: "ok"; data: T };

/**
 * Load once on mount (and on `reload`, and when `deps` change); keeps the last data while reloading in the
 * background. Only the newest load's answer is shown: an older one that arrives late (the booking in the
 * previous locale, after the customer switched) is dropped.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): [Loaded<T>, (background?: boolean) => Promise<T | undefined>] {
  const [v, setV] = useState<Loaded<T>>({ state: "loading" });
  const latest = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(
    async (background = false) => {
      const ticket = ++latest.current;
      if (!background) setV({ state: "loading" });
      try {
        const data = await run();
        if (ticket !== latest.current) return undefined;
        setV({ state: "ok", data });
        return data;
      } catch (error) {
        if (!background && ticket === latest.current) setV({ state: "error", error });
        return undefined;
      }
    },
    [run],
  );
  useEffect(() => {
    void reload();
  }, [reload]);
  return [v, reload];
}

/**
 * Load again, in the background, when the page's locale changes (the API formats money, dates and role names
 * in it). Not on mount: `useLoad` has just loaded in that locale.
 */
export function useReloadOnLocale(locale: string, reload: (background?: boolean) => Promise<unknown>): void {
  const loadedIn = useRef(locale);
  useEffect(() => {
    if (loadedIn.current === locale) return;
    loadedIn.current = locale;
    void reload(true);
  }, [locale, reload]);
}
