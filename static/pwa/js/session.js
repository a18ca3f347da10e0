/* The patron's session as the page sees it: the patron flag cookie (present while a patron is
 * logged in; its value is the session's logout token: it names the session, it is no credential),
 * the CSRF token, and whether a logout has begun (from then on nothing of the patron is written). */

let loggingOut = false;
let csrfToken = null;

export function patronFlag() {
  const m = document.cookie.match(/(?:^|;\s*)opac_patron=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}
export const loggedIn = () => !!patronFlag();
export function dropPatronFlag() {
  document.cookie = "opac_patron=; Max-Age=0; path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
}

export function beginLogout() { loggingOut = true; }
export const isLoggingOut = () => loggingOut;
/* Still the session that was current when ``flag`` was read (write nothing after a logout). */
export const sameSession = (flag) => !loggingOut && !!flag && patronFlag() === flag;

export function csrf() {
  if (csrfToken) return Promise.resolve(csrfToken);
  return fetch("/api/v1/session", { credentials: "same-origin" }).then((r) => r.json())
    .then((d) => { csrfToken = d.csrf_token; return csrfToken; });
}
/* The session (and its CSRF token) may have changed. */
export function forgetCsrf() { csrfToken = null; }

export function postJSON(url, body, headers) {
  return csrf().then((token) => fetch(url, { method: "POST", credentials: "same-origin",
    headers: Object.assign({ "Content-Type": "application/json", "X-CSRFToken": token }, headers || {}),
    body: JSON.stringify(body) }));
}
