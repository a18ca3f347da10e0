/* Unread answers from the library: the badge on the Ask tab (every page, also the cached public
 * ones, which are rendered without patron data) and on the installed app's icon; the thread page
 * marks its answer read (a POST with the page's CSRF token; without script, its button does it). */

import { loggedIn } from "./session.js";

/* The badge's visible number and spoken label for ``n`` unread answers. */
export function badgeText(n, one, many) {
  return { number: String(n), label: n === 1 ? one : (many || "").replace("{n}", String(n)) };
}

function show(n) {
  document.querySelectorAll("[data-badge=answers]").forEach((b) => {
    b.hidden = !n;
    const parts = b.children;
    if (parts.length >= 2) {
      const text = badgeText(n, b.getAttribute("data-label-one"), b.getAttribute("data-label-many"));
      parts[0].textContent = text.number;
      parts[1].textContent = text.label;
    }
  });
  if ("setAppBadge" in navigator) (n ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
}

function refresh() {
  if (!loggedIn()) { show(0); return; }
  fetch("/api/v1/ask/unread", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => { if (data && typeof data.unread_answers === "number") show(data.unread_answers); })
    .catch(() => { /* offline: keep what the page shows */ });
}

function markRead(form) {
  const token = form.querySelector("input[name=csrf_token]");
  fetch(form.action, {
    method: "POST", credentials: "same-origin", body: new FormData(form),
    headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
  }).then((r) => (r.ok ? r.json() : null))
    .then((data) => {
      if (!data) return;
      form.hidden = true;
      show(data.unread_answers || 0);
    }).catch(() => { /* offline: the button stays */ });
}

export function initAnswers() {
  const form = document.querySelector("form[data-mark-read]");
  if (form) markRead(form); else refresh();
}
