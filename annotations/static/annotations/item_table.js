// The item table: a click on a row opens its item (links and checkboxes keep their own meaning); the header's
// checkbox ticks the page.
document.addEventListener("click", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (all) {
    for (const box of document.querySelectorAll('#table input[name="ids"]')) box.checked = all.checked;
    return;
  }
  const row = event.target.closest("tr[data-href]");
  if (!row || event.target.closest("a, input, button, select, label")) return;
  window.location.assign(row.dataset.href);
});
