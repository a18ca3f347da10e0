/* Scanning an ISBN with the camera (BarcodeDetector), where the browser can. */

import { $ } from "./page.js";

const ISBN = /^97[89]\d{10}$|^\d{9}[\dX]$/;

/* The first ISBN (13 or 10 digits) among the scanned values, or undefined. */
export function isbnFrom(values) {
  return values.find((v) => ISBN.test(v));
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
    const detector = new window.BarcodeDetector({ formats: ["ean_13", "ean_8", "upc_a", "code_128"] });
    box.hidden = false;
    const video = $("#scan-video");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then((stream) => {
      video.srcObject = stream;
      video.play();
      const timer = setInterval(() => {
        detector.detect(video).then((codes) => {
          const code = isbnFrom(codes.map((c) => c.rawValue));
          if (code) {
            clearInterval(timer);
            stream.getTracks().forEach((tr) => tr.stop());
            location.href = "/scan?isbn=" + encodeURIComponent(code);
          }
        }).catch(() => {});
      }, 300);
    }).catch(() => { box.hidden = true; });
  }).catch(() => {});
}
