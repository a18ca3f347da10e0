/* What the service worker does with a request: pure rules on URLs and responses (unit-tested). */

export function isStaticAsset(url) {
  return url.pathname.startsWith("/assets/") || url.pathname.startsWith("/static/");
}
export function isPrivatePath(url) {
  return /^\/(staff|account|card|login|logout|password-reset|api\/v1\/(loans|holds|me|card|notifications|saved|push|login|logout|session)|ask\/thread|questions)/.test(url.pathname);
}
export function isKeptPage(url) {
  return url.pathname === "/" || url.pathname.startsWith("/record/") || url.pathname === "/search" ||
         url.pathname === "/faq" || url.pathname === "/info" || url.pathname === "/new" ||
         url.pathname.startsWith("/news");
}
export function cacheable(response) {
  if (!response || response.status !== 200 || response.type === "opaque") return false;
  const cc = (response.headers.get("Cache-Control") || "").toLowerCase();
  return !cc.includes("no-store") && !cc.includes("private");
}
export function pageKey(url) {
  const u = new URL(url);
  u.searchParams.delete("source");
  u.hash = "";
  return u.toString();
}

export function isLogout(url) {
  return /^\/(logout|staff\/logout)$/.test(url.pathname);
}

/* The shell copies to try for ``path`` (/offline, /saved) in ``lang``: that language's, then the
 * precached ones in order (the default language first). */
export function shellCandidates(path, lang, precache) {
  const copies = precache.filter((u) => u.startsWith(path + "/"));
  return lang && copies.includes(path + "/" + lang) ? [path + "/" + lang].concat(copies) : copies;
}
