// The desk's picture zooms and pans in place (wheel, drag, a click; + and - zoom, Z resets, Shift + arrows pan),
// ? opens the list of every key, and P goes to the reviewer's previous item. Transforms are set through the DOM,
// which the Content-Security-Policy allows.
(function () {
  "use strict";
  var MIN = 1, MAX = 8, STEP = 1.25, PAN = 40;
  var view = {scale: 1, x: 0, y: 0};
  var drag = null;

  function picture() { return document.querySelector(".zoomable img"); }
  function frame() { return document.querySelector(".zoomable .zoom-frame"); }
  function typing(target) {
    return target && (target.isContentEditable || target.tagName === "TEXTAREA" ||
      (target.tagName === "INPUT" && ["text", "search", "password", "email"].indexOf(target.type) >= 0));
  }
  function show() {
    var img = picture();
    if (!img) return;
    img.style.transform = "translate(" + view.x + "px, " + view.y + "px) scale(" + view.scale + ")";
    img.parentElement.classList.toggle("zoomed", view.scale > 1);
    var label = document.getElementById("zoom-level");
    if (label) label.textContent = Math.round(view.scale * 100) + "%";
  }
  function reset() { view = {scale: 1, x: 0, y: 0}; show(); }
  // Zoom by `factor` around a point of the frame (its centre by default), keeping that point where it is.
  function zoom(factor, px, py) {
    var box = frame();
    if (!box) return;
    var rect = box.getBoundingClientRect();
    var cx = px === undefined ? rect.width / 2 : px, cy = py === undefined ? rect.height / 2 : py;
    var next = Math.min(MAX, Math.max(MIN, view.scale * factor));
    if (next === MIN) { reset(); return; }
    view.x = cx - (cx - view.x) * (next / view.scale);
    view.y = cy - (cy - view.y) * (next / view.scale);
    view.scale = next;
    show();
  }
  function pan(dx, dy) { if (view.scale > 1) { view.x += dx; view.y += dy; show(); } }

  document.addEventListener("wheel", function (event) {
    var box = event.target.closest && event.target.closest(".zoom-frame");
    if (!box) return;
    event.preventDefault();
    var rect = box.getBoundingClientRect();
    zoom(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - rect.left, event.clientY - rect.top);
  }, {passive: false});
  document.addEventListener("pointerdown", function (event) {
    if (!event.target.closest || !event.target.closest(".zoom-frame") || event.button !== 0) return;
    drag = {x: event.clientX, y: event.clientY, moved: false};
  });
  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) { pan(dx, dy); drag.x = event.clientX; drag.y = event.clientY; }
  });
  document.addEventListener("pointerup", function () { setTimeout(function () { drag = null; }, 0); });
  // A click zooms in where it lands (the link to the full-size file stays for pages without JavaScript).
  document.addEventListener("click", function (event) {
    var box = event.target.closest && event.target.closest(".zoom-frame");
    if (!box) return;
    event.preventDefault();
    if (drag && drag.moved) return;
    var rect = box.getBoundingClientRect();
    if (view.scale >= MAX) reset(); else zoom(2, event.clientX - rect.left, event.clientY - rect.top);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-zoom]");
    if (!button) return;
    var what = button.getAttribute("data-zoom");
    if (what === "in") zoom(STEP); else if (what === "out") zoom(1 / STEP); else reset();
  });

  function help() { return document.getElementById("desk-help"); }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-help-open]")) { var h = help(); if (h) h.showModal(); }
    if (event.target.closest && event.target.closest("[data-help-close]")) { var d = help(); if (d) d.close(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (key === "?") {
      var dialog = help();
      if (dialog) { event.preventDefault(); if (dialog.open) dialog.close(); else dialog.showModal(); }
      return;
    }
    if (key === "p" || key === "P") {
      // After a reveal the panel's link (before this verdict) comes last; on a fresh item, the heading's.
      var links = document.querySelectorAll("[data-previous]");
      if (links.length) { event.preventDefault(); links[links.length - 1].click(); }
      return;
    }
    if (!picture()) return;
    if (key === "+" || key === "=") { event.preventDefault(); zoom(STEP); }
    else if (key === "-" || key === "_") { event.preventDefault(); zoom(1 / STEP); }
    else if (key === "z" || key === "Z") { event.preventDefault(); reset(); }
    else if (event.shiftKey && key.indexOf("Arrow") === 0) {
      event.preventDefault();
      var d = {ArrowLeft: [PAN, 0], ArrowRight: [-PAN, 0], ArrowUp: [0, PAN], ArrowDown: [0, -PAN]}[key];
      pan(d[0], d[1]);
    }
  });
  // A new item (swapped in by htmx) starts unzoomed.
  document.addEventListener("htmx:afterSwap", reset);
})();
