/* Self-checkout: scan a copy's barcode (or the desk's QR code) with the camera, fill the form on the
 * page and send it. Without a camera or BarcodeDetector the typed form works as it is. */
(function () {
  "use strict";
  var box = document.querySelector("[data-selfcheck-scanner]");
  var form = document.querySelector("[data-scan-form]");
  var input = form && form.querySelector("[data-scan-input]");
  if (!box || !input || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var detector = new window.BarcodeDetector({ formats: ["code_128", "code_39", "ean_13", "ean_8", "itf", "qr_code"] });
  var video = box.querySelector("video");
  navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
    box.hidden = false;
    video.srcObject = stream;
    video.play();
    var timer = setInterval(function () {
      detector.detect(video).then(function (codes) {
        var code = codes.map(function (c) { return c.rawValue; }).filter(function (v) { return v && v.length <= 200; })[0];
        if (!code) return;
        clearInterval(timer);
        stream.getTracks().forEach(function (t) { t.stop(); });
        input.value = code.slice(0, 64);
        var desk = /[?&]code=([^&#]+)/.exec(code);
        if (desk) input.value = decodeURIComponent(desk[1]).slice(0, 64);
        form.submit();
      }).catch(function () {});
    }, 300);
  }).catch(function () { box.hidden = true; });
})();
