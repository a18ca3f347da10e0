// The date formatter: the server's forms, in the library's time zone, whatever the device's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { formatDate, language } from "../../static/pwa/js/dates.js";

const JKT = { timeZone: "Asia/Jakarta" };

test("calendar dates in Indonesian and English", () => {
  assert.equal(formatDate("2026-12-14", { lang: "id", ...JKT }), "14 Des 2026");
  assert.equal(formatDate("2026-12-14", { lang: "en", ...JKT }), "14 Dec 2026");
  assert.equal(formatDate("2026-08-04", { lang: "id" }), "4 Agu 2026");
  assert.equal(formatDate("2026-05-01", { lang: "id" }), "1 Mei 2026");
  assert.equal(formatDate("2026-10-31", { lang: "id" }), "31 Okt 2026");
});

test("a calendar date is not shifted by any zone, and takes no time", () => {
  for (const timeZone of ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"]) {
    assert.equal(formatDate("2026-12-14", { lang: "en", timeZone, time: true }), "14 Dec 2026");
  }
});

test("moments with the time, in the library's zone", () => {
  const moment = Date.UTC(2026, 11, 14, 2, 30);  // 09:30 in Jakarta (UTC+7)
  assert.equal(formatDate(moment, { lang: "id", ...JKT, time: true }), "14 Des 2026 09.30");
  assert.equal(formatDate(moment, { lang: "en", ...JKT, time: true }), "14 Dec 2026 09:30");
  assert.equal(formatDate(new Date(moment), { lang: "en", ...JKT }), "14 Dec 2026");
  assert.equal(formatDate("2026-12-14T02:30:00Z", { lang: "id", ...JKT, time: true }), "14 Des 2026 09.30");
  assert.equal(formatDate("2026-12-14T09:30:00+07:00", { lang: "en", ...JKT, time: true }), "14 Dec 2026 09:30");
  // without a zone it is UTC, as the server stores it (never the device's time)
  assert.equal(formatDate("2026-12-14T02:30:00", { lang: "id", ...JKT, time: true }), "14 Des 2026 09.30");
  assert.equal(formatDate("2026-12-14T02:30:00.123456", { lang: "id", ...JKT, time: true }), "14 Des 2026 09.30");
});

test("the library's day, not the device's: late evening UTC is the next morning in Jakarta", () => {
  const moment = Date.UTC(2026, 11, 31, 20, 5);
  assert.equal(formatDate(moment, { lang: "id", ...JKT, time: true }), "1 Jan 2027 03.05");
  assert.equal(formatDate(moment, { lang: "id", timeZone: "UTC", time: true }), "31 Des 2026 20.05");
});

test("midnight is 00, not 24", () => {
  assert.equal(formatDate(Date.UTC(2026, 0, 1, 17, 0), { lang: "en", ...JKT, time: true }), "2 Jan 2026 00:00");
});

test("languages: tags count by their base, anything else is Indonesian", () => {
  assert.equal(language("en-GB"), "en");
  assert.equal(language("id-ID"), "id");
  assert.equal(language("fr"), "id");
  assert.equal(language(undefined), "id");
});

test("empty and unreadable input", () => {
  assert.equal(formatDate(null), "");
  assert.equal(formatDate(""), "");
  assert.equal(formatDate("soon"), "soon");
  assert.equal(formatDate("2026-13-01"), "2026-13-01");
});

test("an unknown zone falls back to UTC instead of failing", () => {
  assert.equal(formatDate(Date.UTC(2026, 11, 14, 2, 30), { lang: "en", timeZone: "Mars/Olympus", time: true }), "14 Dec 2026 02:30");
});
