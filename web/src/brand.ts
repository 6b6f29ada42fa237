// The brand's public settings (/config.json: written by Terraform from var.brands, served by the local
// portal from its brand config). Colours become CSS custom properties through the CSSOM, which the CSP allows
// without 'unsafe-inline'.
export interface Brand {
  name: string;
  primary_colour: string;
  logo_url?: string;
  support_email?: string;
  support_phone?: string;
  stripe_publishable_key?: string;
}

interface Config {
  brands: Record<string, Brand>;
}

const NEUTRAL: Brand = { name: "Tour portal", primary_colour: "#1f4e79" };
const LAST = "portal.brand";
let config: Promise<Config> | null = null;

export function loadConfig(): Promise<Config> {
  config ??= fetch("/config.json", { credentials: "same-origin" })
    .then((r) => (r.ok ? (r.json() as Promise<Config>) : { brands: {} }))
    .catch(() => ({ brands: {} }));
  return config;
}

/** The brand for an id (remembered for the sign-in page of the next visit), or the neutral one. */
export async function brandFor(id: string | null): Promise<{ id: string | null; brand: Brand }> {
  const { brands } = await loadConfig();
  let key = id;
  if (!key) {
    try {
      key = localStorage.getItem(LAST);
    } catch {
      key = null;
    }
  }
  const brand = (key && brands[key]) || null;
  if (brand && id) {
    try {
      localStorage.setItem(LAST, id);
    } catch {
      /* not remembered */
    }
  }
  return { id: brand ? key : null, brand: brand ?? NEUTRAL };
}

export function applyBrand(b: Brand): void {
  const root = document.documentElement.style;
  root.setProperty("--brand", /^#[0-9a-fA-F]{6}$/.test(b.primary_colour) ? b.primary_colour : NEUTRAL.primary_colour);
}
