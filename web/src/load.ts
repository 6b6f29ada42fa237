import { useCallback, useEffect, useState } from "preact/hooks";

export type Loaded<T> = { state: "loading" } | { state: "error"; error: unknown } | { state: "ok"; data: T };

/** Load once on mount (and on `reload`); keeps the last data while reloading in the background. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): [Loaded<T>, (background?: boolean) => Promise<T | undefined>] {
  const [v, setV] = useState<Loaded<T>>({ state: "loading" });
  const run = useCallback(load, deps);
  const reload = useCallback(
    async (background = false) => {
      if (!background) setV({ state: "loading" });
      try {
        const data = await run();
        setV({ state: "ok", data });
        return data;
      } catch (error) {
        if (!background) setV({ state: "error", error });
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
