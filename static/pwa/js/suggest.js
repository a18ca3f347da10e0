/* Suggestions as you type (an ARIA combobox) and, on the ask form, FAQ answers and records. */

import { $, $all, el, t } from "./page.js";
import { postJSON } from "./session.js";

/* The option highlighted after ``key`` (ArrowDown/ArrowUp) with ``active`` highlighted among
 * ``count`` (-1: none, back in the input). */
export function moveHighlight(active, key, count) {
  if (key === "ArrowDown") return Math.min(active + 1, count - 1);
  if (key === "ArrowUp") return Math.max(active - 1, -1);
  return active;
}

/* Calls ``fn(value)`` ``ms`` after typing stops, when ``ready(value)``; only the last answer counts. */
function whileTyping(input, ms, ready, request, render, close) {
  let timer = null;
  let seq = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value;
    if (!ready(q) || !navigator.onLine) { close(); return; }
    timer = setTimeout(() => {
      const mine = ++seq;
      request(q).then((data) => { if (mine === seq) render(data); }).catch(close);
    }, ms);
  });
}

const getJSON = (url) => fetch(url, { headers: { Accept: "application/json" } }).then((r) => (r.ok ? r.json() : Promise.reject(r)));

export function initSuggest() {
  const input = $("input[data-suggest]");
  const list = $("#suggestions");
  if (!input || !list) return;
  const url = input.getAttribute("data-suggest");
  let active = -1;
  let items = [];
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; input.removeAttribute("aria-activedescendant"); };
  const render = (data) => {
    const suggestions = data.suggestions || [];
    list.textContent = "";
    items = suggestions;
    suggestions.forEach((s, i) => {
      const li = el("li", { id: "sugg-" + i, role: "option", "aria-selected": "false" });
      li.appendChild(el("span", {}, s.label));
      li.appendChild(el("span", { "class": "kind" }, t("kind_" + s.type)));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); location.href = s.url; });
      list.appendChild(li);
    });
    const open = suggestions.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
  };
  const highlight = (i) => {
    $all("li", list).forEach((li, j) => li.setAttribute("aria-selected", j === i ? "true" : "false"));
    active = i;
    if (i >= 0) input.setAttribute("aria-activedescendant", "sugg-" + i); else input.removeAttribute("aria-activedescendant");
  };
  whileTyping(input, 150, (q) => q.trim().length >= 2, (q) => getJSON(url + "?q=" + encodeURIComponent(q)).catch(() => ({ suggestions: [] })), render, close);
  input.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); highlight(moveHighlight(active, e.key, items.length)); }
    else if (e.key === "Escape") close();
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); location.href = items[active].url; }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
}

export function initAskSuggest() {
  const box = $("#ask-suggestions");
  const input = $("textarea[data-ask-suggest]");
  if (!box || !input) return;
  const url = input.getAttribute("data-ask-suggest");
  const render = (data) => {
    box.textContent = "";
    if (data.faqs.length) {
      box.appendChild(el("h2", { "class": "h3" }, box.getAttribute("data-t-faq")));
      data.faqs.forEach((f) => {
        const d = el("details", { "class": "card faq-entry" });
        d.appendChild(el("summary", {}, f.question));
        const ans = el("div", { "class": "rich" });
        ans.innerHTML = f.answer;  // sanitised on the server with an allowlist
        d.appendChild(ans);
        const b = el("button", { type: "button", "class": "btn btn-small", "data-helpful": f.id }, box.getAttribute("data-t-helpful"));
        b.addEventListener("click", () => {
          postJSON("/faq/" + f.id + "/helpful", {}, { Accept: "application/json" })
            .then(() => { b.textContent = box.getAttribute("data-t-thanks"); b.disabled = true; });
        });
        d.appendChild(b);
        box.appendChild(d);
      });
    }
    if (data.records.length) {
      box.appendChild(el("h2", { "class": "h3" }, box.getAttribute("data-t-records")));
      const ul = el("ul", {});
      data.records.forEach((r) => { ul.appendChild(el("li", {})).appendChild(el("a", { href: r.url }, r.title)); });
      box.appendChild(ul);
    }
    box.hidden = !(data.faqs.length || data.records.length);
  };
  whileTyping(input, 300, (q) => q.trim().length >= 8, (q) => getJSON(url + "?q=" + encodeURIComponent(q)), render, () => {});
}
