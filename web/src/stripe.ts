// Stripe.js, loaded from js.stripe.com only on the pages that take a card (never bundled, never on other
// pages). Card data stays inside Stripe's frames; the app only holds the client secret of one intent.
interface StripeElement {
  mount(el: HTMLElement): void;
  destroy(): void;
}
interface StripeElements {
  create(kind: "payment", options?: Record<string, unknown>): StripeElement;
}
interface StripeResult {
  error?: { message?: string; type?: string };
  paymentIntent?: { status: string };
  setupIntent?: { status: string; payment_method?: string };
}
export interface StripeJs {
  elements(options: { clientSecret: string; locale?: string; appearance?: Record<string, unknown> }): StripeElements;
  confirmPayment(o: { elements: StripeElements; redirect: "if_required"; confirmParams: { return_url: string } }): Promise<StripeResult>;
  confirmSetup(o: { elements: StripeElements; redirect: "if_required"; confirmParams: { return_url: string } }): Promise<StripeResult>;
}
declare global {
  interface Window {
    Stripe?: (publishableKey: string) => StripeJs;
  }
}

let loading: Promise<StripeJs> | null = null;

export function loadStripe(publishableKey: string): Promise<StripeJs> {
  loading ??= new Promise<StripeJs>((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "https://js.stripe.com/v3/";
    s.async = true;
    s.onload = () => (window.Stripe ? resolve(window.Stripe(publishableKey)) : reject(new Error("Stripe.js")));
    s.onerror = () => {
      loading = null;
      reject(new Error("Stripe.js did not load"));
    };
    document.head.appendChild(s);
  });
  return loading;
}

/** The brand colour for Stripe's Appearance API, so the frame matches the page. */
export function appearance(colour: string): Record<string, unknown> {
  return { theme: "stripe", variables: { colorPrimary: colour, borderRadius: "6px" } };
}
