// Critic Desk, every page: what the Content-Security-Policy keeps out of the templates (inline styles and
// handlers), the unsent verdict kept across a log-in, and a visible message for every failed htmx request.
(function () {
  "use strict";

  // -- computed styles, from data attributes (the CSP allows no style="" in markup) ----------------------------
  function applyStyles(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, parseFloat(el.dataset.width) || 0)) + "%";
    });
    root.querySelectorAll("[data-shade]").forEach(function (el) {
      var alpha = parseFloat(el.dataset.shade) || 0;
      el.style.background = "rgba(47, 91, 211, " + alpha + ")";
      el.style.color = alpha > 0.5 ? "#fff" : "inherit";
    });
  }

  // -- a select that submits its form when changed (was onchange="this.form.submit()") -------------------------
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  // -- parts of a form that apply to some values of one of its fields only (data-show-if="FIELD=VALUE") ----------
  function applyShowIf(root) {
    root.querySelectorAll("[data-show-if]").forEach(function (el) {
      var rule = el.getAttribute("data-show-if").split("=");
      var form = el.closest("form");
      var field = form && form.elements.namedItem(rule[0]);
      if (field) el.hidden = field.value !== rule[1];
    });
  }
  // -- a select's options that apply to one value of another field only (data-options-follow="FIELD" on the
  // select, data-kind="VALUE" on such options): the others are hidden, and one chosen that no longer applies is
  // replaced by the first that does (the server refuses it either way) ------------------------------------------
  function applyOptionsFollow(root) {
    root.querySelectorAll("select[data-options-follow]").forEach(function (select) {
      var field = select.form && select.form.elements.namedItem(select.getAttribute("data-options-follow"));
      if (!field) return;
      Array.prototype.forEach.call(select.options, function (option) {
        var off = option.hasAttribute("data-kind") && option.getAttribute("data-kind") !== field.value;
        option.hidden = off;
        option.disabled = off;
      });
      if (select.selectedOptions.length && select.selectedOptions[0].disabled) {
        var first = Array.prototype.find.call(select.options, function (option) { return !option.disabled; });
        if (first) select.value = first.value;
      }
    });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form) { applyOptionsFollow(form); applyShowIf(form); }
  });

  // -- unsent work: a form marked data-keep-unsent="KEY" is kept in sessionStorage until it is submitted --------
  var PREFIX = "critic-desk:unsent:";

  function keyOf(form) {
    return PREFIX + form.getAttribute("data-keep-unsent");
  }

  function save(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === "hidden" || field.type === "submit" || field.type === "button") return;
      if ((field.type === "radio" || field.type === "checkbox") && !field.checked) return;
      values[field.name] = field.value;
    });
    try {
      sessionStorage.setItem(keyOf(form), JSON.stringify(values));
    } catch (e) {
      /* storage full or disabled: nothing to keep */
    }
  }

  function restore(root) {
    root.querySelectorAll("form[data-keep-unsent]").forEach(function (form) {
      var stored = sessionStorage.getItem(keyOf(form));
      if (!stored) return;
      var values = JSON.parse(stored);
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || !(field.name in values) || field.type === "hidden") return;
        if (field.type === "radio" || field.type === "checkbox") {
          field.checked = field.value === values[field.name];
          if (field.checked) field.dispatchEvent(new Event("change", { bubbles: true }));
        } else {
          field.value = values[field.name];
          field.dispatchEvent(new Event("input", { bubbles: true }));
        }
      });
    });
  }

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-keep-unsent")) save(form);
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-keep-unsent")) save(form);
  });

  function formOf(elt) {
    if (!elt) return null;
    return elt.tagName === "FORM" ? elt : elt.form || elt.closest("form");
  }

  // -- failed htmx requests: a specific message, from the server when it gave one -------------------------------
  var DEFAULTS = {
    400: "The request was refused as malformed.",
    401: "Your session has expired: log in again.",
    403: "You may not do this.",
    404: "Not found: it may have been deleted.",
    409: "Refused: the data changed meanwhile. Reload the page.",
    413: "The upload is too large.",
    422: "Some fields were refused.",
    500: "The server failed on this request. The error is logged; try again, or tell an administrator.",
  };

  function reasonFrom(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var body = xhr.responseText || "";
    if (type.indexOf("application/json") === 0) {
      try {
        var detail = JSON.parse(body).detail;
        if (typeof detail === "string") return { text: detail };
        if (detail) return { text: JSON.stringify(detail) };
      } catch (e) {
        /* not JSON after all */
      }
    }
    if (type.indexOf("text/html") === 0) {
      var doc = new DOMParser().parseFromString(body, "text/html");
      var found = doc.querySelector("[data-error-reason]") || doc.querySelector(".errorlist li, .messages li.error");
      if (found) return { text: found.textContent.trim(), retry: found.hasAttribute("data-error-retry") };
    }
    if (type.indexOf("text/plain") === 0 && body.trim() && body.length < 300) return { text: body.trim() };
    return { text: DEFAULTS[xhr.status] || "The request failed (error " + xhr.status + ")." };
  }

  function show(text, retry) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    flash.textContent = "";
    var message = document.createElement("span");
    message.textContent = text;
    flash.appendChild(message);
    if (retry) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "Reload and retry";
      button.addEventListener("click", function () {
        window.location.reload();
      });
      flash.appendChild(button);
    }
    flash.hidden = false;
    flash.scrollIntoView({ block: "nearest" });
  }

  function hide() {
    var flash = document.getElementById("flash");
    if (flash) flash.hidden = true;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 401 && !xhr.getResponseHeader("HX-Redirect")) {
      window.location.href = "/accounts/login/?next=" + encodeURIComponent(location.pathname + location.search);
      return;
    }
    var reason = reasonFrom(xhr);
    show(reason.text, reason.retry);
  });
  document.addEventListener("htmx:sendError", function () {
    show("The server could not be reached (network error). Nothing was sent; try again.", false);
  });
  document.addEventListener("htmx:timeout", function () {
    show("The server took too long to answer. Try again.", false);
  });
  // Before the swap, while the form is still in the page (a swapped-out form's events reach no listener).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.isError) return;
    hide();
    var form = formOf(event.detail.elt);
    var verb = (event.detail.requestConfig && event.detail.requestConfig.verb) || "";
    if (form && form.hasAttribute("data-keep-unsent") && verb.toLowerCase() === "post") {
      sessionStorage.removeItem(keyOf(form)); // sent and accepted: nothing left to keep
    }
  });

  // -- on load, and on each htmx swap ---------------------------------------------------------------------------
  function init(root) {
    applyStyles(root);
    applyOptionsFollow(root);
    applyShowIf(root);
    restore(root);
  }
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
  });
  document.addEventListener("htmx:load", function (event) {
    init(event.detail.elt.parentNode || document);
  });
})();
