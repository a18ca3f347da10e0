/* Searching the records on the device (visited and saved) when the network is gone. */

export function fold(text) {
  return String(text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}

export function words(q) {
  return fold(q).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/* The records (visited, and saved but not removed; each once) and those matching every word of ``q``. */
export function searchDevice(records, saved, q) {
  const byKey = new Map();
  for (const x of records.concat(saved.filter((s) => !s.removed))) byKey.set(x.key, x);
  const all = Array.from(byKey.values());
  const want = words(q);
  const hits = all.filter((x) => {
    const hay = fold([x.title, x.author, x.year].join(" "));
    return want.every((w) => hay.includes(w));
  });
  return { searched: all.length, hits };
}
