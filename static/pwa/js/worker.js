/* Talking to the service worker from a page. */

let registration = null;

export function setRegistration(reg) { registration = reg; }

export function tellWorker(msg) {
  if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage(msg);
}

/* Ask for a background sync of the queue (where the browser has it). */
export function registerSync() {
  if (registration && registration.sync) registration.sync.register("opac-queue").catch(() => {});
}
