// Keyboard for the review desk: 1/2/3 or arrows choose, Enter submits, S skips, N goes to the next item.
(function () {
  "use strict";
  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "radio" && t.type !== "range"));
  }
  function form() { return document.getElementById("verdict"); }
  function choose(value) {
    const radio = document.querySelector('#verdict input[name="preference"][value="' + value + '"]');
    if (radio) { radio.checked = true; radio.focus(); }
  }
  function nudge(delta) {
    const score = document.getElementById("score");
    if (!score) return false;
    const min = Number(score.min), max = Number(score.max);
    const now = score.value === "" ? Math.round((min + max) / 2) : Number(score.value) + delta;
    score.value = String(Math.min(max, Math.max(min, now)));
    sync(score.value);
    return true;
  }
  function sync(value) {
    const range = document.getElementById("score-range");
    if (range) range.value = value;
  }
  document.addEventListener("input", function (event) {
    if (event.target.id === "score-range") document.getElementById("score").value = event.target.value;
    if (event.target.id === "score") sync(event.target.value);
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const f = form();
    if (!f) {  // after the reveal
      if ((event.key === "n" || event.key === "N") && !typing(event)) {
        const next = document.getElementById("next");
        if (next) { event.preventDefault(); next.click(); }
      }
      return;
    }
    if (event.key === "Enter" && event.target.tagName !== "TEXTAREA") {
      event.preventDefault();
      f.requestSubmit(f.querySelector('button[type="submit"].primary'));
      return;
    }
    if (typing(event)) return;
    const pairwise = f.querySelector('input[name="preference"]') !== null;
    if (pairwise && ({"1": "A", "2": "tie", "3": "B"})[event.key]) { choose(({"1": "A", "2": "tie", "3": "B"})[event.key]); event.preventDefault(); }
    else if (pairwise && event.key === "ArrowLeft") { choose("A"); event.preventDefault(); }
    else if (pairwise && event.key === "ArrowRight") { choose("B"); event.preventDefault(); }
    else if (pairwise && event.key === "ArrowDown") { choose("tie"); event.preventDefault(); }
    else if (!pairwise && /^[0-9]$/.test(event.key)) { const s = document.getElementById("score"); s.focus(); }
    else if (!pairwise && (event.key === "ArrowRight" || event.key === "ArrowUp")) { if (nudge(1)) event.preventDefault(); }
    else if (!pairwise && (event.key === "ArrowLeft" || event.key === "ArrowDown")) { if (nudge(-1)) event.preventDefault(); }
    else if (event.key === "s" || event.key === "S") {
      event.preventDefault();
      f.requestSubmit(f.querySelector('button[formaction]'));
    }
  });
})();
