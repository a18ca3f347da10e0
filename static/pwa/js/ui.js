/* Small page helpers: share, copy a link, sort on change, the library card full screen. */

import { $, $all, t } from "./page.js";

export function initShare() {
  const share = $("[data-share]");
  if (share && navigator.share) {
    share.hidden = false;
    share.addEventListener("click", () => { navigator.share({ title: document.title, url: location.href }).catch(() => {}); });
  }
  $all("[data-copy]").forEach((btn) => {
    if (!navigator.clipboard) return;
    btn.hidden = false;
    btn.addEventListener("click", () => {
      navigator.clipboard.writeText(btn.getAttribute("data-copy")).then(() => { btn.textContent = t("copied"); });
    });
  });
  $all("select[data-autosubmit]").forEach((sel) => {
    const apply = sel.form && $(".sort-apply", sel.form);
    if (apply) apply.hidden = true;
    sel.addEventListener("change", () => sel.form.submit());
  });
}

export function initFullscreen() {
  $all("[data-fullscreen]").forEach((b) => {
    const target = document.getElementById(b.getAttribute("data-fullscreen"));
    if (!target) return;
    b.hidden = false;
    b.onclick = () => {
      if (target.requestFullscreen) target.requestFullscreen().catch(() => target.classList.toggle("fullscreen-card"));
      else target.classList.toggle("fullscreen-card");
      if (navigator.wakeLock) navigator.wakeLock.request("screen").catch(() => {});
    };
  });
}
