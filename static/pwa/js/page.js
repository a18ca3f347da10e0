/* Page helpers: DOM shortcuts, the page's texts (from #i18n, in its language), its language and
 * the library's time zone (<meta name="library-time-zone">), dates formatted for this page. */

import { formatDate } from "./dates.js";

export const $ = (sel, root) => (root || document).querySelector(sel);
export const $all = (sel, root) => Array.from((root || document).querySelectorAll(sel));

export function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

/* "{name}" placeholders filled from ``vars``. */
export function fill(template, vars) {
  let s = template;
  for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(v);
  return s;
}

let texts = null;
export function t(key, vars) {
  if (!texts) {
    try { texts = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}"); } catch (e) { texts = {}; }
  }
  return fill(texts[key] || key, vars);
}

/* A date or a moment in the library's time zone, in this page's language. */
export function showDate(value, time = false) {
  const zone = document.querySelector("meta[name=library-time-zone]");
  return formatDate(value, { lang: document.documentElement.lang, timeZone: zone ? zone.content : "UTC", time });
}

export function uuid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
}

export const noop = () => {};
