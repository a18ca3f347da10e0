/* The device's IndexedDB: one schema for the pages and the service worker. Works in a window and
 * in the worker (whatever has a global indexedDB). */

export const DB_NAME = "opac";
export const DB_VERSION = 2;
/* snapshot: the patron's loans, holds and card; records: visited records; saved: the saved list;
 * queue: actions made offline (renew, hold, ask, logout); meta: small keyed values. */
export const STORES = ["snapshot", "records", "saved", "queue", "meta"];

let dbPromise = null;

export function idb() {
  if (typeof indexedDB === "undefined") return Promise.reject(new Error("no indexedDB"));
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const d = req.result;
        for (const name of STORES) {
          if (!d.objectStoreNames.contains(name)) d.createObjectStore(name, { keyPath: "key" });
        }
      };
      req.onsuccess = () => {
        const d = req.result;
        // a newer version (a new page or worker) wants to upgrade: let it, and open again next time
        d.onversionchange = () => { d.close(); dbPromise = null; };
        resolve(d);
      };
      req.onerror = () => { dbPromise = null; reject(req.error); };
    });
  }
  return dbPromise;
}

/* Runs ``fn(store, tx)`` in one transaction over ``names`` (a name or a list; with a list ``fn``
 * gets the transaction) and resolves when it completes, with the request's result if ``fn``
 * returned a request. */
export function transact(names, mode, fn) {
  return idb().then((d) => new Promise((resolve, reject) => {
    const tx = d.transaction(names, mode);
    const result = fn(Array.isArray(names) ? tx : tx.objectStore(names));
    tx.oncomplete = () => resolve(result && typeof result === "object" && "readyState" in result ? result.result : result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  }));
}

export const put = (name, value) => transact(name, "readwrite", (s) => s.put(value));
export const del = (name, key) => transact(name, "readwrite", (s) => s.delete(key));
export const get = (name, key) => transact(name, "readonly", (s) => s.get(key));
export const all = (name) => transact(name, "readonly", (s) => s.getAll());

/* Deletes, in the store of cursor-able ``s``, every value for which ``drop(value)`` is true. */
export function deleteWhere(s, drop) {
  s.openCursor().onsuccess = (e) => {
    const c = e.target.result;
    if (!c) return;
    if (drop(c.value)) c.delete();
    c.continue();
  };
}
