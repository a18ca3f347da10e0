/* opac app script: progressive enhancement only; every page works without it. */
(function () {
  "use strict";
  var doc = document;

  function $(sel, root) { return (root || doc).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || doc).querySelectorAll(sel)); }

  /* ---------- suggestions as you type (ARIA combobox) ---------- */
  function initSuggest() {
    var input = $("input[data-suggest]");
    var list = $("#suggestions");
    if (!input || !list) return;
    var url = input.getAttribute("data-suggest");
    var timer = null, active = -1, items = [], seq = 0;

    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; input.removeAttribute("aria-activedescendant"); }
    function render(suggestions) {
      list.textContent = "";
      items = suggestions;
      suggestions.forEach(function (s, i) {
        var li = doc.createElement("li");
        li.id = "sugg-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var kind = doc.createElement("span");
        kind.className = "kind";
        kind.textContent = s.type;
        var label = doc.createElement("span");
        label.textContent = s.label;
        li.appendChild(label);
        li.appendChild(kind);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); location.href = s.url; });
        list.appendChild(li);
      });
      var open = suggestions.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
    }
    function highlight(i) {
      $all("li", list).forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (i >= 0) input.setAttribute("aria-activedescendant", "sugg-" + i); else input.removeAttribute("aria-activedescendant");
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value;
      if (q.trim().length < 2 || !navigator.onLine) { close(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (data) { if (mine === seq) render(data.suggestions || []); })
          .catch(close);
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, -1)); }
      else if (e.key === "Escape") { close(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); location.href = items[active].url; }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  /* ---------- share, copy link, sort auto-submit ---------- */
  function initShare() {
    var share = $("[data-share]");
    if (share && navigator.share) {
      share.hidden = false;
      share.addEventListener("click", function () {
        navigator.share({ title: doc.title, url: location.href }).catch(function () {});
      });
    }
    $all("[data-copy]").forEach(function (btn) {
      if (!navigator.clipboard) return;
      btn.hidden = false;
      btn.addEventListener("click", function () {
        navigator.clipboard.writeText(btn.getAttribute("data-copy")).then(function () {
          btn.textContent = btn.getAttribute("data-copied") || "✓";
        });
      });
    });
    $all("select[data-autosubmit]").forEach(function (sel) {
      var apply = sel.form && $(".sort-apply", sel.form);
      if (apply) apply.hidden = true;
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  }

  initSuggest();
  initShare();
  if (window.opacPWA) window.opacPWA();
})();
