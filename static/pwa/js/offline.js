/* The offline page (served by the worker for any page not on the device): the snapshot of the
 * patron's loans (with renew buttons that queue), holds and card; a search over the records on
 * the device; the hold and ask forms, queued; and what is available offline. Its texts come from
 * the page (data-t-* attributes), in the page's language. */

import { offlineSubmit } from "./actions.js";
import { searchDevice } from "./localsearch.js";
import { $, el, fill, showDate, t, uuid } from "./page.js";
import { queued, renewalPending } from "./queue.js";
import { all, get } from "./store.js";
import { initFullscreen } from "./ui.js";

/* Which view a path asks for: [view, argument]. */
export function offlineView(path) {
  const hold = path.match(/^\/record\/(\d+)\/hold/);
  if (hold) return ["hold", Number(hold[1])];
  if (path === "/ask") return ["ask"];
  if (/^\/account\/loans/.test(path)) return ["snapshot", "loans"];
  if (/^\/account\/holds/.test(path)) return ["snapshot", "holds"];
  if (/^\/card/.test(path)) return ["snapshot", "card"];
  if (path === "/search") return ["search"];
  return ["none"];
}

export function renderOffline() {
  const app = $("#offline-app");
  if (!app) return;
  const view = $("#offline-view");
  const tt = (name, vars) => fill(app.getAttribute("data-t-" + name) || name, vars);
  const say = (text) => { view.textContent = ""; view.appendChild(el("p", {}, text)); };

  function field(form, label, input) {
    input.id = "f-" + input.getAttribute("name");
    const d = el("div", {});
    d.appendChild(el("label", { "for": input.id }, label));
    d.appendChild(input);
    form.appendChild(d);
  }

  /* A form that is always queued (this page is only shown when the network failed). */
  function queuedForm(kind, attrs, button) {
    const form = el("form", Object.assign({ "data-offline-action": kind, "data-offline-only": "" }, attrs));
    form.appendChild(el("input", { type: "hidden", name: "idempotency_key", value: uuid() }));
    const b = el("button", { type: "submit", "class": "btn btn-primary" }, button);
    form.appendChild(b);
    offlineSubmit(form, (ok) => {
      if (!ok) return;
      b.disabled = true;
      b.textContent = tt("queued");
    });
    return form;
  }

  function loanCard(l, pending) {
    const li = el("li", { "class": "card loan" });
    li.appendChild(el("h3", {}, l.title));
    li.appendChild(el("p", { "class": "status-line" + (l.overdue ? " bad" : "") }, tt("due", { date: showDate(l.due_date) })));
    if (l.can_renew) {
      const form = queuedForm("renew", { action: "/account/loans/" + l.id + "/renew", "data-label": l.title, "class": "inline-form" },
        tt("renew"));
      if (pending) {
        const b = form.querySelector("button");
        b.disabled = true;
        b.textContent = tt("queued");
      }
      li.appendChild(form);
    } else if (l.renew_refusal && l.renew_refusal.message) {
      li.appendChild(el("p", { "class": "muted" }, l.renew_refusal.message));
    }
    return li;
  }

  function showSnapshot(kind) {
    return Promise.all([get("snapshot", kind), queued().catch(() => [])]).then(([snap, items]) => {
      view.textContent = "";
      if (!snap) { view.appendChild(el("p", {}, tt("login"))); return; }
      view.appendChild(el("h2", {}, tt(kind)));
      view.appendChild(el("p", { "class": "stale-note" }, tt("asof", { time: showDate(snap.at, true) })));
      if (kind === "card") {
        const card = el("div", { "class": "library-card", id: "library-card" });
        card.appendChild(el("p", { "class": "card-name" }, snap.data.name));
        const holder = el("div", { "class": "barcode" });
        holder.innerHTML = snap.data.barcode_svg;  // our own server-made SVG (no user markup)
        card.appendChild(holder);
        card.appendChild(el("p", {}, snap.data.card_number));
        const qr = el("div", { "class": "qr" });
        qr.innerHTML = snap.data.qr_svg;
        card.appendChild(qr);
        view.appendChild(card);
        view.appendChild(el("button", { type: "button", "class": "btn btn-primary", "data-fullscreen": "library-card" }, t("fullscreen")));
        initFullscreen();
        return;
      }
      const ul = el("ul", { "class": "cards", "data-snapshot": kind });
      if (kind === "loans") {
        (snap.data.loans || []).forEach((l) => ul.appendChild(loanCard(l, renewalPending(items, l.id))));
      } else {
        (snap.data.holds || []).forEach((h) => {
          const li = el("li", { "class": "card" });
          li.appendChild(el("h3", {}, h.title));
          li.appendChild(el("p", {}, h.status === "ready" ? tt("ready") : tt("position", { pos: h.position, total: h.queue_length })));
          ul.appendChild(li);
        });
      }
      view.appendChild(ul);
    });
  }

  function localSearch() {
    const q = new URLSearchParams(location.search).get("q") || "";
    return Promise.all([all("records"), all("saved")]).then(([records, saved]) => {
      const { searched, hits } = searchDevice(records, saved, q);
      view.textContent = "";
      view.appendChild(el("p", { "class": "notice" }, tt("search", { n: searched })));
      if (!hits.length) { view.appendChild(el("p", {}, tt("nohits"))); return; }
      const ul = el("ul", { "class": "cards", id: "offline-hits" });
      hits.forEach((h) => {
        const li = el("li", { "class": "card" });
        li.appendChild(el("a", { href: h.url }, h.title));
        if (h.author) li.appendChild(el("p", {}, h.author));
        ul.appendChild(li);
      });
      view.appendChild(ul);
    });
  }

  function showForm(form, title) {
    form.classList.add("stack");
    form.setAttribute("data-label", title);
    form.insertBefore(el("h2", {}, title), form.firstChild);
    view.textContent = "";
    view.appendChild(form);
  }

  function holdForm(recordId) {
    return Promise.all([get("meta", "pickup-locations"), get("records", String(recordId))]).then(([places, rec]) => {
      if (!places) { say(tt("needonline")); return; }
      const form = queuedForm("hold", { "data-record-id": String(recordId) }, tt("queue"));
      const button = form.querySelector("button");
      const sel = el("select", { name: "pickup_location_id", required: "required" });
      places.data.forEach((l) => sel.appendChild(el("option", { value: String(l.id) }, l.name)));
      const fields = el("div", { "class": "stack" });
      field(fields, tt("pickup"), sel);
      field(fields, tt("nna"), el("input", { type: "date", name: "not_needed_after" }));
      form.insertBefore(fields, button);
      showForm(form, tt("holdtitle") + ": " + (rec ? rec.title : "#" + recordId));
    });
  }

  function askForm() {
    return get("meta", "ask-stamp").then((stamp) => {
      if (!stamp) { say(tt("needonline")); return; }
      const form = queuedForm("ask", {}, tt("queue"));
      const button = form.querySelector("button");
      const fields = el("div", { "class": "stack" });
      field(fields, tt("question"), el("textarea", { name: "question", required: "required", minlength: "10", maxlength: "4000" }));
      // the ask form's topics, as the server listed them in the page
      let topics = null;
      try { topics = JSON.parse(($("#offline-topics") || {}).textContent || "null"); } catch (e) { topics = null; }
      if (topics) {
        const topic = el("select", { name: "category" });
        topics.choices.forEach(([value, label]) => {
          topic.appendChild(el("option", value === topics.chosen ? { value, selected: "selected" } : { value }, label));
        });
        field(fields, tt("topic"), topic);
      }
      field(fields, tt("email"), el("input", { type: "email", name: "email" }));
      for (const [name, value] of [["ts", stamp.value], ["channel", "app"]]) fields.appendChild(el("input", { type: "hidden", name, value }));
      form.insertBefore(fields, button);
      showForm(form, tt("asktitle"));
    });
  }

  const [what, arg] = offlineView(location.pathname);
  const job = what === "hold" ? holdForm(arg) : what === "ask" ? askForm() : what === "snapshot" ? showSnapshot(arg)
    : what === "search" ? localSearch() : Promise.resolve();
  job.catch(() => {});
  listDevice(tt);
}

/* What is available on this device. */
function listDevice(tt) {
  const list = $("#offline-list");
  const none = () => [];
  Promise.all([all("records").catch(none), all("saved").catch(none), all("snapshot").catch(none)]).then(([records, saved, snaps]) => {
    list.textContent = "";
    snaps.forEach((s) => {
      const li = el("li", { "class": "card" });
      li.appendChild(el("a", { href: s.key === "card" ? "/card" : "/account/" + s.key }, tt(s.key)));
      li.appendChild(el("span", { "class": "muted" }, " · " + showDate(s.at, true)));
      list.appendChild(li);
    });
    const kept = saved.filter((s) => !s.removed);
    if (kept.length) {
      const li = el("li", { "class": "card" });
      li.appendChild(el("a", { href: "/saved" }, t("savedlist") + " (" + kept.length + ")"));
      list.appendChild(li);
    }
    records.sort((a, b) => b.at - a.at).slice(0, 50).forEach((x) => {
      list.appendChild(el("li", { "class": "card" })).appendChild(el("a", { href: x.url }, x.title));
    });
    if (!list.children.length) list.appendChild(el("li", {}, tt("none")));
  });
}
