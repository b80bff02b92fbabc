// The desk's pictures zoom and pan in place (wheel, drag, a click; + and - zoom, Z resets, Shift + arrows pan), each
// on its own; on an item with several, the keys and buttons act on the one outlined (the last one used; I moves to
// the next). ? opens the list of every key, and P goes to the reviewer's previous item. Transforms are set through
// the DOM, which the Content-Security-Policy allows.
(function () {
  "use strict";
  var MIN = 1, MAX = 8, STEP = 1.25, PAN = 40;
  var views = new WeakMap();  // frame -> {scale, x, y}
  var drag = null;

  function figures() { return Array.prototype.slice.call(document.querySelectorAll(".zoomable")); }
  function current() { return document.querySelector(".zoomable.current") || figures()[0] || null; }
  function frame() { var f = current(); return f ? f.querySelector(".zoom-frame") : null; }
  function viewOf(box) {
    var v = views.get(box);
    if (!v) { v = {scale: 1, x: 0, y: 0}; views.set(box, v); }
    return v;
  }
  function choose(figure) {
    if (!figure || figure.classList.contains("current")) return;
    figures().forEach(function (f) { f.classList.toggle("current", f === figure); });
    var which = document.getElementById("zoom-which");
    if (which) which.textContent = "image " + figure.getAttribute("data-picture");
    label();
  }
  function label() {
    var box = frame(), text = document.getElementById("zoom-level");
    if (box && text) text.textContent = Math.round(viewOf(box).scale * 100) + "%";
  }
  function typing(target) {
    return target && (target.isContentEditable || target.tagName === "TEXTAREA" ||
      (target.tagName === "INPUT" && ["text", "search", "password", "email"].indexOf(target.type) >= 0));
  }
  function show(box) {
    var img = box.querySelector("img"), view = viewOf(box);
    img.style.transform = "translate(" + view.x + "px, " + view.y + "px) scale(" + view.scale + ")";
    box.classList.toggle("zoomed", view.scale > 1);
    label();
  }
  function reset(box) { views.set(box, {scale: 1, x: 0, y: 0}); show(box); }
  // Zoom the frame by `factor` around one of its points (its centre by default), keeping that point where it is.
  function zoom(box, factor, px, py) {
    if (!box) return;
    var rect = box.getBoundingClientRect(), view = viewOf(box);
    var cx = px === undefined ? rect.width / 2 : px, cy = py === undefined ? rect.height / 2 : py;
    var next = Math.min(MAX, Math.max(MIN, view.scale * factor));
    if (next === MIN) { reset(box); return; }
    view.x = cx - (cx - view.x) * (next / view.scale);
    view.y = cy - (cy - view.y) * (next / view.scale);
    view.scale = next;
    show(box);
  }
  function pan(box, dx, dy) {
    var view = box && viewOf(box);
    if (view && view.scale > 1) { view.x += dx; view.y += dy; show(box); }
  }
  function frameAt(target) {
    var box = target.closest && target.closest(".zoom-frame");
    if (box) choose(box.closest(".zoomable"));
    return box;
  }

  document.addEventListener("wheel", function (event) {
    var box = frameAt(event.target);
    if (!box) return;
    event.preventDefault();
    var rect = box.getBoundingClientRect();
    zoom(box, event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - rect.left, event.clientY - rect.top);
  }, {passive: false});
  document.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    var box = frameAt(event.target);
    if (box) drag = {box: box, x: event.clientX, y: event.clientY, moved: false};
  });
  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) { pan(drag.box, dx, dy); drag.x = event.clientX; drag.y = event.clientY; }
  });
  document.addEventListener("pointerup", function () { setTimeout(function () { drag = null; }, 0); });
  // A click zooms in where it lands (the link to the full-size file stays for pages without JavaScript).
  document.addEventListener("click", function (event) {
    var box = frameAt(event.target);
    if (!box) return;
    event.preventDefault();
    if (drag && drag.moved) return;
    var rect = box.getBoundingClientRect();
    if (viewOf(box).scale >= MAX) reset(box); else zoom(box, 2, event.clientX - rect.left, event.clientY - rect.top);
  });
  function nextPicture() {
    var all = figures();
    if (all.length > 1) choose(all[(all.indexOf(current()) + 1) % all.length]);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-zoom]");
    if (!button) return;
    var what = button.getAttribute("data-zoom");
    if (what === "next") nextPicture();
    else if (what === "in") zoom(frame(), STEP);
    else if (what === "out") zoom(frame(), 1 / STEP);
    else if (frame()) reset(frame());
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
    var box = frame();
    if (!box) return;
    if (key === "+" || key === "=") { event.preventDefault(); zoom(box, STEP); }
    else if (key === "-" || key === "_") { event.preventDefault(); zoom(box, 1 / STEP); }
    else if (key === "z" || key === "Z") { event.preventDefault(); reset(box); }
    else if (key === "i" || key === "I") { event.preventDefault(); nextPicture(); }
    else if (event.shiftKey && key.indexOf("Arrow") === 0) {
      event.preventDefault();
      var d = {ArrowLeft: [PAN, 0], ArrowRight: [-PAN, 0], ArrowUp: [0, PAN], ArrowDown: [0, -PAN]}[key];
      pan(box, d[0], d[1]);
    }
  });
  // A new item (swapped in by htmx) starts unzoomed, its first picture outlined.
  document.addEventListener("htmx:afterSwap", function () {
    figures().forEach(function (f) { reset(f.querySelector(".zoom-frame")); });
    choose(figures()[0]);
  });
})();
