/* A cover that cannot load (offline, or a remote cover that is gone) shows the placeholder
 * instead of a broken-image icon. The service worker answers for our own covers offline; this
 * covers the remote ones and any that failed before the script ran. */

export const PLACEHOLDER = "/static/pwa/cover-placeholder.svg";

function replace(img) {
  if (img.getAttribute("src") === PLACEHOLDER) return;
  img.classList.add("cover-placeholder");
  img.src = PLACEHOLDER;
}

export function initCovers() {
  document.addEventListener("error", (e) => {
    const img = e.target;
    if (img instanceof HTMLImageElement && img.classList.contains("cover")) replace(img);
  }, true);
  for (const img of document.querySelectorAll("img.cover")) {
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) replace(img);
  }
}
