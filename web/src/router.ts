// A few lines of History API routing: the app has a dozen routes, a router library would outweigh them.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

export function useLocation(): string {
  const [path, setPath] = useState(location.pathname + location.search);
  useEffect(() => {
    const update = () => setPath(location.pathname + location.search);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return path;
}

export type Route =
  | { page: "trips" }
  | { page: "sign-in"; params: URLSearchParams }
  | { page: "booking"; reference: string }
  | { page: "pay"; reference: string; params: URLSearchParams }
  | { page: "schedule"; reference: string }
  | { page: "travellers"; reference: string }
  | { page: "traveller"; reference: string; travellerId: string }
  | { page: "requests"; reference: string }
  | { page: "request-new"; reference: string }
  | { page: "request"; reference: string; requestId: string }
  | { page: "messages"; reference: string }
  | { page: "not-found" };

export function parseRoute(pathAndQuery: string): Route {
  const [path = "/", query = ""] = pathAndQuery.split("?", 2);
  const params = new URLSearchParams(query);
  if (path === "/" || path === "/trips") return { page: "trips" };
  if (path === "/sign-in") return { page: "sign-in", params };
  const td = /^\/trips\/([A-Za-z0-9-]{1,20})\/travellers(?:\/([A-Za-z0-9_-]{1,40}))?\/?$/.exec(path);
  if (td?.[1]) {
    const reference = decodeURIComponent(td[1]);
    if (td[2]) return { page: "traveller", reference, travellerId: decodeURIComponent(td[2]) };
    return { page: "travellers", reference };
  }
  const rq = /^\/trips\/([A-Za-z0-9-]{1,20})\/requests(?:\/(new|rq_[a-z0-9]{20}))?\/?$/.exec(path);
  if (rq?.[1]) {
    const reference = decodeURIComponent(rq[1]);
    if (rq[2] === "new") return { page: "request-new", reference };
    if (rq[2]) return { page: "request", reference, requestId: rq[2] };
    return { page: "requests", reference };
  }
  const ms = /^\/trips\/([A-Za-z0-9-]{1,20})\/messages\/?$/.exec(path);
  if (ms?.[1]) return { page: "messages", reference: decodeURIComponent(ms[1]) };
  const m = /^\/trips\/([A-Za-z0-9-]{1,20})(\/pay|\/schedule)?\/?$/.exec(path);
  if (m?.[1]) {
    const reference = decodeURIComponent(m[1]);
    if (m[2] === "/pay") return { page: "pay", reference, params };
    if (m[2] === "/schedule") return { page: "schedule", reference };
    return { page: "booking", reference };
  }
  return { page: "not-found" };
}

/** Links that navigate inside the app without a page load. */
export function onLinkClick(e: MouseEvent): void {
  const a = (e.target as Element | null)?.closest("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || a.target || a.hasAttribute("download")) return;
  e.preventDefault();
  navigate(href);
}
