// The page the emailed link opens (`/sign-in#token=...`). Opening it consumes nothing: the token stays in the
// fragment (never sent to a server, useless to mail scanners) until the customer presses the button. The
// fragment is removed from the address bar and history at once.
import { useEffect, useState } from "preact/hooks";
import { ApiError, api } from "../api/client";
import { takeNext, useApp, useTitle } from "../app";
import { Notice, PageHeading } from "../components";
import { useI18n } from "../i18n";
import { navigate } from "../router";

function tokenFromHash(): string | null {
  const m = /(?:^|&)token=([A-Za-z0-9_-]{43})(?:&|$)/.exec(location.hash.slice(1));
  return m?.[1] ?? null;
}

export function SignIn({ params }: { params: URLSearchParams }) {
  const { t } = useI18n();
  const { setWho } = useApp();
  useTitle(t("signIn.title"));
  const [token, setToken] = useState(tokenFromHash);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: "info" | "success" | "error"; text: string } | null>(() => {
    if (params.get("expired")) return { kind: "info", text: t("signIn.expired") };
    if (params.get("signed_out") === "everywhere") return { kind: "success", text: t("nav.signedOutEverywhere") };
    if (params.get("signed_out")) return { kind: "success", text: t("signIn.signedOut") };
    return null;
  });
  const [reference, setReference] = useState(params.get("reference") ?? "");
  const [email, setEmail] = useState("");
  const [codeRef, setCodeRef] = useState(params.get("reference") ?? "");
  const [code, setCode] = useState("");

  // Take the token out of the address bar and history at once; a link opened while this page is already
  // open (same document, only the fragment changes) is picked up too.
  useEffect(() => {
    const take = () => {
      const t = tokenFromHash();
      if (t) setToken(t);
      if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    };
    take();
    window.addEventListener("hashchange", take);
    return () => window.removeEventListener("hashchange", take);
  }, []);

  const failure = (e: unknown, link: boolean) => {
    if (e instanceof ApiError && e.status === 429) return t("signIn.tooMany");
    if (link && e instanceof ApiError && e.status === 401) return t("signIn.linkFailed");
    if (e instanceof ApiError && e.status === 0) return t("app.network");
    const detail = e instanceof ApiError ? (e.problem?.detail ?? String(e.status)) : String(e);
    return t("signIn.failed", { detail });
  };

  const signIn = async (body: Parameters<typeof api.createSession>[0], link: boolean) => {
    setBusy(true);
    setMessage({ kind: "info", text: t("signIn.working") });
    try {
      const s = await api.createSession(body);
      setWho(s.session);
      navigate(takeNext(s.session.booking_reference), true);
    } catch (e) {
      setMessage({ kind: "error", text: failure(e, link) });
      setBusy(false);
    }
  };

  const request = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.requestLink({ booking_reference: reference.trim().toUpperCase(), email: email.trim() });
      setMessage({ kind: "success", text: t("signIn.requestSent") });
      setCodeRef(reference.trim().toUpperCase());
    } catch (err) {
      setMessage({ kind: "error", text: failure(err, false) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="narrow">
      <PageHeading>{t("signIn.title")}</PageHeading>
      {message && (
        <Notice kind={message.kind} testId="sign-in-message">
          {message.text}
        </Notice>
      )}
      {token && (
        <section class="card" aria-labelledby="link-h">
          <h2 id="link-h" class="visually-hidden">
            {t("signIn.linkButton")}
          </h2>
          <p>{t("signIn.linkIntro")}</p>
          <button type="button" class="primary" disabled={busy} onClick={() => void signIn({ token }, true)}>
            {t("signIn.linkButton")}
          </button>
        </section>
      )}
      <section class="card" aria-labelledby="request-h">
        <h2 id="request-h">{t("signIn.requestTitle")}</h2>
        <p>{t("signIn.requestIntro")}</p>
        <form onSubmit={(e) => void request(e)}>
          <label for="req-ref">{t("signIn.reference")}</label>
          <input
            id="req-ref"
            name="reference"
            required
            maxLength={20}
            autoComplete="off"
            autoCapitalize="characters"
            value={reference}
            onInput={(e) => setReference(e.currentTarget.value)}
          />
          <label for="req-email">{t("signIn.email")}</label>
          <input
            id="req-email"
            name="email"
            type="email"
            required
            maxLength={254}
            autoComplete="email"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            {t("signIn.requestButton")}
          </button>
        </form>
      </section>
      <section class="card" aria-labelledby="code-h">
        <h2 id="code-h">{t("signIn.codeTitle")}</h2>
        <p>{t("signIn.codeIntro")}</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void signIn({ booking_reference: codeRef.trim().toUpperCase(), code: code.trim() }, false);
          }}
        >
          <label for="code-ref">{t("signIn.reference")}</label>
          <input
            id="code-ref"
            name="code-reference"
            required
            maxLength={20}
            autoComplete="off"
            value={codeRef}
            onInput={(e) => setCodeRef(e.currentTarget.value)}
          />
          <label for="code">{t("signIn.code")}</label>
          <input
            id="code"
            name="code"
            required
            inputMode="numeric"
            pattern="[0-9]{8}"
            maxLength={8}
            autoComplete="one-time-code"
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            {t("signIn.codeButton")}
          </button>
        </form>
      </section>
    </div>
  );
}
