import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { ApiError } from "./api/client";
import { useI18n } from "./i18n";

export function Loading() {
  const { t } = useI18n();
  return (
    <p class="muted" role="status">
      {t("app.loading")}
    </p>
  );
}

export function errorText(e: unknown, t: ReturnType<typeof useI18n>["t"]): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return t("app.network");
    return t("app.error", { detail: e.problem?.detail ?? e.problem?.title ?? String(e.status) });
  }
  return t("app.error", { detail: String(e) });
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const { t } = useI18n();
  return (
    <div class="notice error" role="alert">
      <p>{errorText(error, t)}</p>
      {retry && (
        <button type="button" class="secondary" onClick={retry}>
          {t("app.retry")}
        </button>
      )}
    </div>
  );
}

/** A status message that screen readers announce; takes focus when it appears if `focus`. */
export function Notice({
  kind = "info",
  children,
  focus = false,
  testId,
}: {
  kind?: "info" | "success" | "error";
  children: ComponentChildren;
  focus?: boolean;
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  return (
    <div
      ref={ref}
      class={`notice ${kind}`}
      role={kind === "error" ? "alert" : "status"}
      tabIndex={focus ? -1 : undefined}
      data-testid={testId}
    >
      {children}
    </div>
  );
}

/** The page heading takes focus on navigation, so keyboard and screen-reader users start at the top. */
export function PageHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}
