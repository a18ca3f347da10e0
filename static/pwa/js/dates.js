/* One date formatter, in the library's time zone, in the forms the server uses:
 * "14 Des 2026" / "14 Dec 2026", with the time "14 Des 2026 09.30" (id) / "14 Dec 2026 09:30" (en).
 * Month names are ours (not the browser's), so every browser writes what the server writes. */

export const MONTHS = {
  id: ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
  en: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
};
const TIME_SEPARATOR = { id: ".", en: ":" };
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ZONED = /(Z|[+-]\d{2}:?\d{2})$/i;

export function language(tag) {
  const base = String(tag || "").toLowerCase().split(/[-_]/)[0];
  return MONTHS[base] ? base : "id";
}

const zoned = new Map();
function zoneParts(ms, timeZone) {
  let f = zoned.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", hourCycle: "h23" });
    zoned.set(timeZone, f);
  }
  const p = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour % 24, minute: +p.minute };
}

/* ``value``: a calendar date "2026-12-14" (shown as it is, whatever the zone), or a moment (epoch
 * milliseconds, a Date, or an ISO date-time: with its offset, or else UTC) shown in ``timeZone``.
 * Options: lang ("id" or "en"; a tag like "en-GB" counts as "en"), timeZone (an IANA name),
 * time (add hours and minutes; ignored for a calendar date). Unreadable input comes back as text. */
export function formatDate(value, { lang = "id", timeZone = "UTC", time = false } = {}) {
  const l = language(lang);
  if (value === null || value === undefined || value === "") return "";
  const day = typeof value === "string" && DATE_ONLY.exec(value);
  let p;
  if (day) {
    p = { year: +day[1], month: +day[2], day: +day[3] };
    time = false;
  } else {
    // a date-time without a zone is UTC (as the server stores it), not the device's time
    const text = typeof value === "string" && value.includes("T") && !ZONED.test(value) ? value + "Z" : value;
    const ms = value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(text);
    if (!Number.isFinite(ms)) return String(value);
    try { p = zoneParts(ms, timeZone); } catch (e) { p = zoneParts(ms, "UTC"); }
  }
  if (!(p.month >= 1 && p.month <= 12)) return String(value);
  let out = `${p.day} ${MONTHS[l][p.month - 1]} ${p.year}`;
  if (time) out += ` ${String(p.hour).padStart(2, "0")}${TIME_SEPARATOR[l]}${String(p.minute).padStart(2, "0")}`;
  return out;
}
