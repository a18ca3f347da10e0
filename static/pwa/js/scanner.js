/* Scanning an ISBN (or the entrance check-in QR code) with the camera (BarcodeDetector), where the browser can. */

import { $ } from "./page.js";

const ISBN = /^97[89]\d{10}$|^\d{9}[\dX]$/;

/* The first ISBN (13 or 10 digits) among the scanned values, or undefined. */
export function isbnFrom(values) {
  return values.find((v) => ISBN.test(v));
}

/* This library's entrance check-in link among the scanned values (a QR code), or undefined. */
export function visitFrom(values, origin) {
  return values.find((v) => v.startsWith(origin + "/visit?code="));
}

export function initScanLink() {
  const link = $("[data-scan]");
  if (link && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) { link.hidden = false; link.href = "/scan"; }
}

export function initScanner() {
  const box = $("#scanner");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  window.BarcodeDetector.getSupportedFormats().then((formats) => {
    if (!formats.includes("ean_13")) return;
    const wanted = ["ean_13", "ean_8", "upc_a", "code_128"];
    if (formats.includes("qr_code")) wanted.push("qr_code");  /* the entrance check-in code */
    const detector = new window.BarcodeDetector({ formats: wanted });
    box.hidden = false;
    const video = $("#scan-video");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then((stream) => {
      video.srcObject = stream;
      video.play();
      const timer = setInterval(() => {
        detector.detect(video).then((codes) => {
          const values = codes.map((c) => c.rawValue);
          const visit = visitFrom(values, location.origin);
          const code = isbnFrom(values);
          if (visit || code) {
            clearInterval(timer);
            stream.getTracks().forEach((tr) => tr.stop());
            /* the entrance QR opens its check-in page (the patron confirms there) */
            location.href = visit || "/scan?isbn=" + encodeURIComponent(code);
          }
        }).catch(() => {});
      }, 300);
    }).catch(() => { box.hidden = true; });
  }).catch(() => {});
}
