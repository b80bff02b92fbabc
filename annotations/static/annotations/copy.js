// Copy buttons: <button data-copy="#selector"> copies the value (or text) of the element it names.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent;
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => { source.select?.(); document.execCommand("copy"); done(); });
  } else {
    source.select?.();
    document.execCommand("copy");
    done();
  }
});
