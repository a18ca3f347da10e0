/* The page's side of a logout: the device forgets the patron (the rules are in erase.js, which
 * the service worker follows too) and the worker is told. */

import { erasePatronData } from "./erase.js";
import { tellWorker } from "./worker.js";

export function forgetPatron() {
  try { localStorage.clear(); } catch (e) { /* storage disabled */ }
  try { sessionStorage.clear(); } catch (e) { /* storage disabled */ }
  tellWorker({ type: "LOGOUT" });
  return erasePatronData();
}
