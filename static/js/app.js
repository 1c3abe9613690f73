// Small behaviours that keep working without a framework.
document.addEventListener("click", (event) => {
  // A "select all on this page" checkbox in a table header toggles the row checkboxes.
  const all = event.target.closest("input[data-select-all]");
  if (all) {
    const table = all.closest("table");
    table.querySelectorAll("input[data-select-row]").forEach((box) => { box.checked = all.checked; });
    table.dispatchEvent(new Event("selection-changed", { bubbles: true }));
  } else if (event.target.closest("input[data-select-row]")) {
    event.target.dispatchEvent(new Event("selection-changed", { bubbles: true }));
  }
  // Buttons with data-confirm ask before they submit.
  const confirmer = event.target.closest("[data-confirm]");
  if (confirmer && !window.confirm(confirmer.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Copy buttons: <button data-copy="#element-id">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.value || source.textContent.trim());
    button.textContent = "Copied";
  }
});
