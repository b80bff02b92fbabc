// Keyboard for the review desk. Before the verdict: 1/2/3 (or ← ↓ →) choose a response, digits type a score
// (a digit after any other key starts a new number), ← → move it by the profile's step, Enter submits (or says what is missing), S skips
// without recording anything. After the reveal: N goes to the next item. R (model-text.js) shows raw text.
(function () {
  "use strict";
  var PAIRWISE_KEYS = {"1": "A", "2": "tie", "3": "B", "ArrowLeft": "A", "ArrowDown": "tie", "ArrowRight": "B"};
  var typedDigits = false;  // whether the last key typed the score, so that the next digit extends it

  function form() { return document.getElementById("verdict"); }
  function score() { return document.getElementById("score"); }
  // Keys in these go to the field itself; the score box is the desk's own and follows the desk's keys.
  function writing(target) {
    if (!target || target.id === "score") return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && ["radio", "range", "checkbox", "button", "submit"].indexOf(target.type) < 0;
  }
  function missing(text) {
    var hint = document.getElementById("verdict-missing");
    if (!hint) return;
    hint.textContent = text || "";
    hint.hidden = !text;
  }
  function choose(value) {
    var radio = document.querySelector('#verdict input[name="preference"][value="' + value + '"]');
    if (radio) { radio.checked = true; radio.focus(); missing(""); }
  }
  // What is wrong with the score in the box ("" when nothing is), worded as the server refuses it
  // (annotations/services/review.py, score_refusal): the slider stops at the ends, so the box's number is said.
  function stepsOf(box) {
    var min = Number(box.min), step = stepOf(box), count = Math.round((Number(box.max) - min) / step), all = [];
    for (var k = 0; k <= count; k++) all.push(String(Number((min + k * step).toFixed(decimalsOf(step) + decimalsOf(min)))));
    return (all.length <= 7 ? all : all.slice(0, 3).concat(["…", all[all.length - 1]])).join(", ");
  }
  function refusal(box) {
    if (box.value === "") return "";
    var value = Number(box.value);
    if (value > Number(box.max)) return value + " is above the highest score, " + Number(box.max) + ".";
    if (value < Number(box.min)) return value + " is below the lowest score, " + Number(box.min) + ".";
    if (onGrid(box, value) !== value) return value + " is not on this rubric's steps (" + stepsOf(box) + ").";
    return "";
  }
  function setScore(value) {
    var box = score();
    box.value = value;
    var range = document.getElementById("score-range");
    if (range) range.value = value;
    missing(refusal(box));
  }
  function typeDigit(digit, extend) {
    var box = score(), max = Number(box.max);
    var next = extend && box.value !== "" ? box.value + digit : digit;
    if (Number(next) > max) next = digit;  // past the top of the range: a new number begins
    setScore(String(Number(next)));
  }
  // The profile's step (the field's step attribute: 1, or a team profile's 0.5, 5, ...) is what ← → move by; the
  // score lands on the profile's grid from its minimum, written without float noise (0.1 + 0.2).
  function stepOf(box) { var step = Number(box.step); return step > 0 ? step : 1; }
  function decimalsOf(step) { var text = String(step), dot = text.indexOf("."); return dot < 0 ? 0 : text.length - dot - 1; }
  function onGrid(box, value) {
    var min = Number(box.min), max = Number(box.max), step = stepOf(box);
    var k = Math.round((value - min) / step);
    var snapped = Math.min(max, Math.max(min, min + k * step));
    return Number(snapped.toFixed(decimalsOf(step) + decimalsOf(min)));
  }
  function nudge(delta) {
    // From the score, or with none yet from where the slider stands (the middle), as a slider's own keys move it.
    var box = score(), min = Number(box.min), max = Number(box.max);
    var from = box.value === "" ? (min + max) / 2 : Number(box.value);
    setScore(String(onGrid(box, onGrid(box, from) + delta * stepOf(box))));
  }
  function chosen(f) {
    if (f.querySelector('input[name="preference"]')) return f.querySelector('input[name="preference"]:checked') !== null;
    var box = score();
    return box.value !== "" && box.checkValidity();
  }
  function submit(f) {
    if (!chosen(f)) {
      var source = f.querySelector("[data-missing]");
      var box = score();
      missing((box && refusal(box)) || (source ? source.getAttribute("data-missing") : "Give your verdict first."));
      return;
    }
    missing("");
    f.requestSubmit(f.querySelector('button[type="submit"].primary'));
  }
  function skip(f) {
    // The skip button posts to its own URL (hx-post): a click, not a submit of the verdict form.
    var button = f.querySelector("button.skip");
    if (button) button.click();
  }

  document.addEventListener("input", function (event) {
    if (event.target.id === "score-range") { score().value = event.target.value; missing(""); typedDigits = false; }
    if (event.target.id === "score") {  // typed in the box: the slider follows (stopping at its ends), and a
      var range = document.getElementById("score-range");  // score the rubric cannot give is said at once
      if (range) range.value = event.target.value;
      missing(refusal(event.target));
    }
  });
  // The Submit button's own check (the browser's) found the box invalid: say why, as Enter does.
  document.addEventListener("invalid", function (event) {
    if (event.target.id !== "score") return;
    event.preventDefault();  // our message, not the browser's bubble
    missing(refusal(event.target) || event.target.form.querySelector("[data-missing]").getAttribute("data-missing"));
  }, true);
  document.addEventListener("change", function (event) {
    if (event.target.id === "order") event.target.form.submit();  // the order applies when chosen
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.key === "Shift") return;
    var f = form();
    var target = event.target;
    if (!f) {  // after the reveal
      if ((event.key === "n" || event.key === "N") && !writing(target)) {
        var next = document.getElementById("next");
        if (next) { event.preventDefault(); next.click(); }
      }
      return;
    }
    if (writing(target)) return;  // the rationale: Enter is a new line there, letters are text
    if (event.shiftKey && event.key.indexOf("Arrow") === 0) return;  // Shift + arrows pan the picture (desk-view.js)
    var pairwise = f.querySelector('input[name="preference"]') !== null;
    var key = event.key;
    var extend = typedDigits;
    typedDigits = false;
    if (key === "Enter") { event.preventDefault(); submit(f); }
    else if (key === "s" || key === "S") { event.preventDefault(); skip(f); }
    else if (pairwise && PAIRWISE_KEYS[key]) { event.preventDefault(); choose(PAIRWISE_KEYS[key]); }
    else if (pairwise) { return; }
    else if (/^[0-9]$/.test(key)) { event.preventDefault(); typeDigit(key, extend); typedDigits = true; }
    else if (key === "Backspace") {
      if (target.id !== "score") { event.preventDefault(); setScore(score().value.slice(0, -1)); }
      typedDigits = true;  // what is left is still being typed
    }
    else if (key === "ArrowRight" || key === "ArrowUp") { event.preventDefault(); nudge(1); }
    else if (key === "ArrowLeft" || key === "ArrowDown") { event.preventDefault(); nudge(-1); }
  });
})();
