/* Staff pages only (loaded by templates/staff/base.html). The pages work without it; this adds the
 * desk's keyboard shortcuts, in-place scanning that keeps focus, and a short beep per result. */
(function () {
  "use strict";
  var MUTE_KEY = "opac-desk-mute";
  var audio = null;

  function muted() { try { return localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { return false; } }

  /* Two different tones: a short high beep for success, a low double buzz for an error. */
  function beep(ok) {
    if (muted()) return;
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      audio = audio || new Ctx();
      if (audio.state === "suspended") audio.resume();
      var tones = ok ? [[880, 0, 0.12]] : [[220, 0, 0.16], [220, 0.22, 0.16]];
      tones.forEach(function (t) {
        var osc = audio.createOscillator(), gain = audio.createGain(), at = audio.currentTime + t[1];
        osc.type = ok ? "sine" : "square";
        osc.frequency.value = t[0];
        gain.gain.setValueAtTime(0.15, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + t[2]);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(at); osc.stop(at + t[2] + 0.02);
      });
    } catch (e) { /* no sound on this device: the colour, icon and words remain */ }
  }

  function i18n() {
    var el = document.getElementById("desk-i18n");
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  }

  function setupMute(t) {
    var btn = document.querySelector("[data-mute]");
    if (!btn) return;
    function paint() {
      var m = muted();
      btn.setAttribute("aria-pressed", m ? "true" : "false");
      btn.textContent = m ? (t.soundoff || "Sound off") : (t.soundon || "Sound on");
    }
    btn.hidden = false;
    paint();
    btn.addEventListener("click", function () {
      try { localStorage.setItem(MUTE_KEY, muted() ? "0" : "1"); } catch (e) { /* private mode */ }
      paint();
    });
  }

  function setupShortcuts() {
    document.addEventListener("keydown", function (ev) {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      var link = document.querySelector('.desk-mode[data-shortcut="' + ev.key + '"]');
      if (!link) return;
      ev.preventDefault();
      if (link.getAttribute("aria-current") === "page") {
        var field = document.querySelector("[data-desk-form] input[autofocus]") ||
                    document.querySelector("[data-desk-form] input[type=text]");
        if (field) field.focus();
      } else {
        window.location.assign(link.href);
      }
    });
  }

  function setupForm(form, t) {
    var result = document.getElementById("desk-result");
    var barcode = form.querySelector("input[name=barcode]");
    var card = form.querySelector("input[name=card]");
    if (card) {
      /* a scanned card ends with Enter: go on to the item instead of submitting half a form */
      card.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && !barcode.value) { ev.preventDefault(); barcode.focus(); }
      });
    }
    /* form.action is shadowed by the hidden input named "action": read the attribute */
    var url = form.getAttribute("action") || window.location.pathname;
    var busy = false;
    form.addEventListener("submit", function (ev) {
      if (!window.fetch || !window.DOMParser || !result) return;  /* plain post */
      ev.preventDefault();
      if (busy) return;
      busy = true;
      var used = document.activeElement && form.contains(document.activeElement) ? document.activeElement : barcode;
      fetch(url, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "text/html", "X-Requested-With": "fetch"}})
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("desk-result");
          if (!fresh) { window.location.assign(url); return; }
          result.innerHTML = fresh.innerHTML;
          var state = fresh.getAttribute("data-result");
          result.setAttribute("data-result", state);
          beep(state === "ok");
          if (state === "ok") { barcode.value = ""; barcode.focus(); }
          else { (used || barcode).focus(); if (used && used.select) used.select(); }
        })
        .catch(function () {
          result.innerHTML = "";
          var p = document.createElement("p");
          p.className = "desk-flash desk-error"; p.setAttribute("role", "alert");
          p.textContent = t.failed || "Could not reach the server.";
          result.appendChild(p);
          result.setAttribute("data-result", "error");
          beep(false);
          barcode.focus();
        })
        .then(function () { busy = false; });
    });
  }

  /* A part of a page that changes by itself (the self-checkout code) is fetched afresh in place: no
   * <meta refresh>, which reloads the whole page under the reader (WCAG 2.2.1). */
  function setupRefresh() {
    var part = document.querySelector("[data-refresh-seconds]");
    if (!part || !window.fetch || !window.DOMParser) return;
    window.setInterval(function () {
      fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          var fresh = html && new DOMParser().parseFromString(html, "text/html").querySelector("[data-refresh-seconds]");
          if (fresh) part.innerHTML = fresh.innerHTML;
        })
        .catch(function () { /* offline for a moment: the next round tries again */ });
    }, 1000 * Number(part.getAttribute("data-refresh-seconds")));
  }

  function init() {
    setupRefresh();
    if (!document.body.classList.contains("desk-page")) return;
    var t = i18n();
    setupMute(t);
    setupShortcuts();
    Array.prototype.forEach.call(document.querySelectorAll("[data-desk-form]"), function (f) { setupForm(f, t); });
    var state = (document.getElementById("desk-result") || {getAttribute: function () { return ""; }})
      .getAttribute("data-result");
    if (state) beep(state === "ok");  /* after a plain post; browsers may keep it silent until a key is pressed */
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
