/* Unread answers from the library: the badge on the Ask tab (every page, also the cached public
   ones, which are rendered without patron data) and on the installed app's icon; the thread page
   marks its answer read (a POST with the page's CSRF token; without script, its button does it). */
(function () {
  "use strict";
  var doc = document;

  function loggedIn() { return /(?:^|;\s*)opac_patron=[^;]+/.test(doc.cookie); }

  function show(n) {
    var badges = doc.querySelectorAll("[data-badge=answers]");
    for (var i = 0; i < badges.length; i++) {
      var b = badges[i];
      b.hidden = !n;
      var parts = b.children;
      if (parts.length >= 2) {
        parts[0].textContent = String(n);
        parts[1].textContent = n === 1 ? b.getAttribute("data-label-one")
          : (b.getAttribute("data-label-many") || "").replace("{n}", String(n));
      }
    }
    if ("setAppBadge" in navigator) {
      (n ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(function () {});
    }
  }

  function refresh() {
    if (!loggedIn()) { show(0); return; }
    fetch("/api/v1/ask/unread", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && typeof data.unread_answers === "number") show(data.unread_answers); })
      .catch(function () { /* offline: keep what the page shows */ });
  }

  function markRead(form) {
    var token = form.querySelector("input[name=csrf_token]");
    fetch(form.action, {
      method: "POST", credentials: "same-origin", body: new FormData(form),
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" }
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        form.hidden = true;
        show(data.unread_answers || 0);
      }).catch(function () { /* offline: the button stays */ });
  }

  var form = doc.querySelector("form[data-mark-read]");
  if (form) markRead(form); else refresh();
})();
