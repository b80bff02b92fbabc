// Model text on a page: math typeset by KaTeX, and one switch (the R key or the button) between the rendered text
// and the raw characters the critic read, kept for the browser tab's session.
(function () {
  "use strict";
  var KEY = "critic-desk:raw-text";
  var root = document.documentElement;

  function stored() {
    try { return window.sessionStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }
  function store(raw) {
    try { window.sessionStorage.setItem(KEY, raw ? "1" : "0"); } catch (e) { /* private mode: this page only */ }
  }
  function label() {
    var raw = root.classList.contains("raw-text");
    document.querySelectorAll("button.raw-toggle").forEach(function (button) {
      button.hidden = false;
      button.setAttribute("aria-pressed", raw ? "true" : "false");
      button.firstChild.textContent = raw ? "Show rendered " : "Show raw text ";
    });
  }
  // The raw characters wait in an inert <template>: they join the page only while raw text is shown.
  function apply(scope) {
    var raw = root.classList.contains("raw-text");
    scope.querySelectorAll(".model-text").forEach(function (box) {
      var shown = box.querySelector(":scope > pre.raw");
      if (raw && !shown) box.appendChild(box.querySelector(":scope > template.raw").content.cloneNode(true));
      if (!raw && shown) shown.remove();
    });
    label();
  }
  function toggle() {
    var raw = !root.classList.contains("raw-text");
    root.classList.toggle("raw-text", raw);
    store(raw);
    apply(document);
  }
  function typeset(scope) {
    if (!window.katex) return;
    scope.querySelectorAll(".model-text .math[data-tex]:not([data-typeset])").forEach(function (element) {
      element.setAttribute("data-typeset", "1");
      try {
        window.katex.render(element.getAttribute("data-tex"), element, {
          displayMode: element.classList.contains("display"),
          throwOnError: false,
          trust: false,
          maxExpand: 1000,
          maxSize: 20,
        });
      } catch (e) { /* the source stays as written */ }
    });
  }

  root.classList.toggle("raw-text", stored());  // before the page is painted: no flash of the other view
  document.addEventListener("DOMContentLoaded", function () { typeset(document); apply(document); });
  document.addEventListener("htmx:load", function (event) { typeset(event.detail.elt); apply(event.detail.elt); });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("button.raw-toggle")) { event.preventDefault(); toggle(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.key !== "r" && event.key !== "R") return;
    var t = event.target;
    if (t && (t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT" ||
              (t.tagName === "INPUT" && ["radio", "range", "checkbox", "button", "submit"].indexOf(t.type) < 0))) return;
    event.preventDefault();
    toggle();
  });
})();
