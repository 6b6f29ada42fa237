import "./styles.css";
import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { api, setApiLocale, setUnauthorisedHandler } from "./api/client";
import { AppContext, rememberNext, type WhoAmI } from "./app";
import { applyBrand, brandFor, type Brand } from "./brand";
import {
  I18nContext,
  LOCALES,
  LOCALE_NAMES,
  catalogueNow,
  loadCatalogue,
  preferredLocale,
  makeI18n,
  matchLocale,
  rememberLocale,
  type Locale,
} from "./i18n";
import { navigate, onLinkClick, parseRoute, useLocation } from "./router";
import { SignIn } from "./pages/sign-in";
import { Trips } from "./pages/trips";
import { BookingPage } from "./pages/booking";
import { PayPage } from "./pages/pay";
import { SchedulePage } from "./pages/schedule";
import { NotFound } from "./pages/not-found";
import { TravellersPage } from "./pages/travellers";
import { TravellerFormPage } from "./pages/traveller-form";
import { RequestsPage } from "./pages/requests";
import { NewRequestPage } from "./pages/request-form";
import { RequestPage } from "./pages/request";
import { MessagesPage } from "./pages/messages";

// The catalogue of the customer's language, fetched while the rest of the app starts.
const initialLocale = preferredLocale();
if (initialLocale) void loadCatalogue(initialLocale).catch(() => undefined);

setUnauthorisedHandler(() => {
  if (location.pathname !== "/sign-in") {
    rememberNext(location.pathname + location.search);
    navigate("/sign-in?expired=1", true);
  }
});

function App() {
  const path = useLocation();
  const route = parseRoute(path);
  // The customer's choice, else the browser's languages, else the booking's own locale (until a booking is
  // loaded: en-GB, and no Accept-Language of ours, so the API answers in the booking's locale).
  const [preferred] = useState(preferredLocale);
  // `wanted`: the locale chosen; `locale`: the one shown, which follows once its catalogue is here (the page
  // stays in the previous language for that moment rather than flash English).
  const [wanted, setLocale] = useState<Locale>(preferred ?? "en-GB");
  const [locale, setShown] = useState<Locale | null>(() => (catalogueNow(wanted) ? wanted : null));
  const [followsBooking, setFollowsBooking] = useState(preferred === null);
  const [brandId, setBrandId] = useState<string | null>(null);
  const [brand, setBrand] = useState<Brand>({ name: "", primary_colour: "#1f4e79" });
  const [who, setWho] = useState<WhoAmI | null | undefined>(undefined);
  const i18n = useMemo(() => makeI18n(locale ?? "en-GB"), [locale]);
  useEffect(() => {
    let live = true;
    if (catalogueNow(wanted)) setShown(wanted);
    else
      void loadCatalogue(wanted)
        .then(() => live && setShown(wanted))
        // The chunk did not come (offline, a deploy replaced it): stay in the language on screen.
        .catch(() => live && setShown((s) => s ?? "en-GB"));
    return () => {
      live = false;
    };
  }, [wanted]);

  // The API formats money and dates in the language on screen, so figures and words never differ; the pages
  // load again when it changes (`useReloadOnLocale`).
  setApiLocale(followsBooking ? null : (locale ?? wanted));
  useEffect(() => {
    if (locale) document.documentElement.lang = locale;
  }, [locale]);
  useEffect(() => {
    let live = true;
    void brandFor(brandId).then((b) => {
      if (!live) return;
      setBrand(b.brand);
      applyBrand(b.brand);
    });
    return () => {
      live = false;
    };
  }, [brandId]);

  const enterBooking = useCallback((id: string, bookingLocale: string) => {
    setBrandId(id);
    const l = matchLocale(bookingLocale);
    if (l && preferred === null) setLocale(l);
  }, [preferred]);

  // Who is signed in (for the navigation), once per page load; pages that load data set it too.
  useEffect(() => {
    if (location.pathname === "/sign-in") {
      setWho(null);
      return;
    }
    api
      .currentSession()
      .then((s) => setWho(s.session))
      .catch(() => setWho(null));
  }, []);

  const choose = (l: Locale) => {
    rememberLocale(l);
    setFollowsBooking(false);
    setLocale(l);
  };

  const signOut = async (everywhere: boolean) => {
    try {
      if (everywhere) await api.signOutEverywhere();
      else await api.signOut();
    } finally {
      setWho(null);
      navigate(everywhere ? "/sign-in?signed_out=everywhere" : "/sign-in?signed_out=1");
    }
  };

  const t = i18n.t;
  let page;
  switch (route.page) {
    case "sign-in":
      page = <SignIn params={route.params} />;
      break;
    case "trips":
      page = <Trips />;
      break;
    case "booking":
      page = <BookingPage key={route.reference} reference={route.reference} />;
      break;
    case "pay":
      page = <PayPage key={route.reference} reference={route.reference} params={route.params} />;
      break;
    case "schedule":
      page = <SchedulePage key={route.reference} reference={route.reference} />;
      break;
    case "travellers":
      page = <TravellersPage key={route.reference} reference={route.reference} />;
      break;
    case "traveller":
      page = (
        <TravellerFormPage
          key={`${route.reference}/${route.travellerId}`}
          reference={route.reference}
          travellerId={route.travellerId}
        />
      );
      break;
    case "requests":
      page = <RequestsPage key={route.reference} reference={route.reference} />;
      break;
    case "request-new":
      page = <NewRequestPage key={route.reference} reference={route.reference} />;
      break;
    case "request":
      page = <RequestPage key={`${route.reference}/${route.requestId}`} reference={route.reference} requestId={route.requestId} />;
      break;
    case "messages":
      page = <MessagesPage key={route.reference} reference={route.reference} />;
      break;
    default:
      page = <NotFound />;
  }

  // The first paint waits for the catalogue of a customer who reads another language than English (fetched
  // from the start, at the top of this file): one short fetch, rather than a page that flashes English.
  if (locale === null) return null;

  return (
    <I18nContext.Provider value={i18n}>
      <AppContext.Provider value={{ brand, enterBooking, who, setWho }}>
        <div onClick={onLinkClick}>
          <a class="skip" href="#main">
            {t("app.skip")}
          </a>
          <header class="top">
            <div class="bar">
              {/* Until /config.json has answered there is no name to give the link: no link rather than an
                  unnamed one (axe: link-name). */}
              {brand.name ? (
                <a class="brand" href={who ? "/" : "/sign-in"}>
                  {brand.logo_url && <img src={brand.logo_url} alt="" height={32} />}
                  <span>{brand.name}</span>
                </a>
              ) : (
                <span class="brand" aria-hidden="true" />
              )}
              <nav aria-label={t("nav.trips")}>
                {who && (
                  <>
                    <a href="/">{t("nav.trips")}</a>
                    <button type="button" class="link" onClick={() => void signOut(false)}>
                      {t("nav.signOut")}
                    </button>
                    <button type="button" class="link" onClick={() => void signOut(true)}>
                      {t("nav.signOutEverywhere")}
                    </button>
                  </>
                )}
                <label class="lang">
                  <span class="visually-hidden">{t("app.language")}</span>
                  <select
                    value={wanted}
                    onChange={(e) => choose(e.currentTarget.value as Locale)}
                    data-testid="locale"
                  >
                    {LOCALES.map((l) => (
                      <option key={l} value={l} lang={l}>
                        {LOCALE_NAMES[l]}
                      </option>
                    ))}
                  </select>
                </label>
              </nav>
            </div>
          </header>
          <main id="main" tabIndex={-1}>
            {page}
          </main>
          <footer class="foot">
            {(brand.support_email || brand.support_phone) && (
              <p>
                {t("app.support", { brand: brand.name })}:{" "}
                {brand.support_email && <a href={`mailto:${brand.support_email}`}>{brand.support_email}</a>}
                {brand.support_email && brand.support_phone && " · "}
                {brand.support_phone && <a href={`tel:${brand.support_phone.replace(/\s/g, "")}`}>{brand.support_phone}</a>}
              </p>
            )}
          </footer>
        </div>
      </AppContext.Provider>
    </I18nContext.Provider>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
