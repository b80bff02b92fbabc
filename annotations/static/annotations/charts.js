// Charts: the PNG download. The server draws every chart as SVG and serves it as a file (the "SVG" link); the "PNG"
// button loads that same file as an image, paints it on a canvas at twice its size and saves the canvas as PNG.
// Same origin, so the canvas is not tainted; no inline script, so the Content-Security-Policy stays strict.
(function () {
  "use strict";
  var SCALE = 2;

  function offerPng(root) {
    if (!window.HTMLCanvasElement || !HTMLCanvasElement.prototype.toBlob) return;
    root.querySelectorAll("[data-png-only][hidden]").forEach(function (el) { el.hidden = false; });
  }

  function save(blob, filename) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function failed(button, why) {
    button.removeAttribute("aria-busy");
    button.title = "The PNG could not be made: " + why + ". The SVG link still works.";
  }

  function toPng(button) {
    var image = new Image();
    button.setAttribute("aria-busy", "true");
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(image.naturalWidth * SCALE);
      canvas.height = Math.round(image.naturalHeight * SCALE);
      var context = canvas.getContext("2d");
      context.fillStyle = "#ffffff";  // a PNG viewer's dark background must not show through
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        if (!blob) { failed(button, "the browser made no image"); return; }
        button.removeAttribute("aria-busy");
        save(blob, button.getAttribute("data-filename") || "chart.png");
      }, "image/png");
    };
    image.onerror = function () { failed(button, "the chart did not load"); };
    image.src = button.getAttribute("data-chart-png");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-chart-png]") : null;
    if (!button) return;
    event.preventDefault();
    toPng(button);
  });
  document.addEventListener("DOMContentLoaded", function () { offerPng(document); });
  document.addEventListener("htmx:afterSettle", function () { offerPng(document); });
})();
