/* Notices on this device (Web Push), when the patron asks for them. */

import { $, t } from "./page.js";
import { postJSON } from "./session.js";

/* The server's VAPID public key (base64url) as the bytes PushManager wants. */
export function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export function initPush() {
  const btn = $("#push-optin");
  if (!btn || !("PushManager" in window) || !navigator.serviceWorker) return;
  btn.hidden = false;
  btn.addEventListener("click", () => {
    let key;
    const subscribe = () => navigator.serviceWorker.ready
      .then((reg) => reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
    const send = (sub) => postJSON("/api/v1/push/subscribe", sub);  // JSON.stringify uses its toJSON
    fetch("/api/v1/push/key").then((r) => (r.ok ? r.json() : Promise.reject())).then((k) => {
      key = keyBytes(k.public_key);
      return subscribe();
    }).then((sub) => send(sub).then((r) => {
      if (r.status !== 409) return r;
      // this browser's subscription is another patron's (409): replace it with a new one of our own
      return sub.unsubscribe().then(subscribe).then(send);
    })).then((r) => {
      if (!r.ok) return Promise.reject();
      btn.textContent = t("pushon");
      btn.disabled = true;
    }).catch(() => { btn.textContent = t("pushfail"); });
  });
}
