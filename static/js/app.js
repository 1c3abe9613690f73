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

// --- Contacts list (engineer a): selection count, "select all matching", bulk bar, custom fields.
(() => {
  const bulkForm = () => document.querySelector("form[data-bulk-form]");
  const allMatching = () => document.querySelector("input[data-select-all-matching]");

  function refreshSelection() {
    const form = bulkForm();
    if (!form) return;
    const boxes = [...document.querySelectorAll("input[data-select-row]")];
    const checked = boxes.filter((box) => box.checked).length;
    const banner = document.querySelector("[data-select-matching-banner]");
    const header = document.querySelector("input[data-select-all]");
    const matching = allMatching();
    const everyOnPage = boxes.length > 0 && checked === boxes.length;
    if (header) header.checked = everyOnPage;
    if (!everyOnPage && matching) matching.value = "0";
    if (banner) {
      banner.hidden = !everyOnPage;
      if (!everyOnPage || (matching && matching.value !== "1")) {
        banner.querySelector("[data-all-selected]").hidden = true;
        banner.querySelector("[data-select-matching]").hidden = false;
        banner.querySelector("[data-page-selected]").hidden = false;
      }
    }
    const counter = form.querySelector("[data-selected-count]");
    if (counter) counter.textContent = matching && matching.value === "1" ? "All matching" : String(checked);
  }

  document.addEventListener("selection-changed", refreshSelection);
  document.addEventListener("htmx:afterSwap", refreshSelection);
  // After a batch action the page comes back with the same contacts ticked.
  document.addEventListener("DOMContentLoaded", refreshSelection);

  document.addEventListener("click", (event) => {
    const selectMatching = event.target.closest("[data-select-matching]");
    if (selectMatching) {
      allMatching().value = "1";
      selectMatching.hidden = true;
      const banner = selectMatching.closest("[data-select-matching-banner]");
      banner.querySelector("[data-page-selected]").hidden = true;
      banner.querySelector("[data-all-selected]").hidden = false;
      refreshSelection();
    }
    if (event.target.closest("[data-clear-selection]")) {
      document.querySelectorAll("input[data-select-row], input[data-select-all]").forEach((box) => { box.checked = false; });
      allMatching().value = "0";
      refreshSelection();
    }
    const addRow = event.target.closest("[data-add-meta-row]");
    if (addRow) {
      const rows = addRow.parentElement.querySelector("[data-meta-rows]");
      const last = rows.lastElementChild;
      const copy = last.cloneNode(true);
      const n = rows.children.length + 1;
      copy.querySelectorAll("input").forEach((input) => { input.value = ""; input.id = `${input.name}-${n}`; });
      copy.querySelectorAll("label").forEach((label, i) => { label.htmlFor = copy.querySelectorAll("input")[i].id; });
      rows.appendChild(copy);
      copy.querySelector("input").focus();
    }
  });

  function showNeeded(select) {
    const form = select.form;
    form.querySelectorAll("[data-bulk-needs]").forEach((part) => {
      part.hidden = !part.dataset.bulkNeeds.split(" ").includes(select.value);
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[data-bulk-action]")) showNeeded(event.target);
  });
  document.addEventListener("DOMContentLoaded", () => {
    const select = document.querySelector("select[data-bulk-action]");
    if (select) showNeeded(select);
  });

  // "1,234 contacts": the number in words the confirmations use.
  const contacts = (n) => `${n.toLocaleString("en-US")} contact${n === 1 ? "" : "s"}`;
  const CONFIRM = {
    delete: (what) => `Delete ${what}? This cannot be undone.`,
    remove_from_group: (what) => `Remove ${what} from this group? The contacts themselves are kept.`,
    opt_out: (what) => `Opt out ${what}? They will receive no campaign messages.`,
  };
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("form[data-bulk-form]")) return;
    const chosen = document.querySelectorAll("input[data-select-row]:checked").length;
    const matching = allMatching() && allMatching().value === "1";
    if (!chosen && !matching) {
      event.preventDefault();
      window.alert("Select at least one contact first.");
      return;
    }
    const question = CONFIRM[form.elements.action.value];
    if (!question) return;
    // "All matching": the count the banner shows (digits only; "…" while it loads).
    const shown = Number((document.getElementById("match-count")?.textContent || "").replace(/\D/g, ""));
    const what = !matching ? contacts(chosen) : shown ? contacts(shown) : "all matching contacts";
    if (!window.confirm(question(what))) event.preventDefault();
  });
})();

// --- No inline script anywhere (the Content-Security-Policy forbids it): page behaviours here.
// A select with data-autosubmit submits its form when changed (workspace switcher, import options).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

// The contacts filter form refreshes the table when a filter changes. Search has its own
// delayed trigger and the group picker navigates to the group, so neither counts here.
// Rows per page belongs to that form too (form="contact-filters"), from under the table.
document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (!form || !form.matches("form[data-filter-form]")) return;
  if (event.target.type === "search" || event.target.name === "group") return;
  form.dispatchEvent(new Event("filters-changed"));
});

// Import mapping: the custom-field name only matters for "Custom field…" (works without JS).
function syncMappingSelect(select) {
  const input = select.nextElementSibling;
  if (input) input.hidden = select.value !== "metadata";
}
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-mapping-select]")) syncMappingSelect(event.target);
});
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select[data-mapping-select]").forEach(syncMappingSelect);
});

// Searchable selects (<select data-search="Search time zones">): a search box above the select
// hides the options that do not match every word typed, and selects the first that does.
(() => {
  const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

  function enhance(select) {
    if (select.dataset.searchReady) return;
    select.dataset.searchReady = "1";
    const box = document.createElement("input");
    box.type = "search";
    box.className = "select-search";
    box.placeholder = select.dataset.search;
    box.setAttribute("aria-label", select.dataset.search);
    box.setAttribute("aria-controls", select.id);
    select.before(box);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault();  // searching never submits the form
    });
    box.addEventListener("input", () => {
      const words = fold(box.value).split(/\s+/).filter(Boolean);
      let first = null;
      for (const option of select.options) {
        const text = fold(`${option.value} ${option.text}`).replace(/_/g, " ");
        option.hidden = !words.every((word) => text.includes(word));
        if (!option.hidden && !first) first = option;
      }
      if (first && select.selectedOptions[0]?.hidden) {
        select.value = first.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  const enhanceAll = (root) => root.querySelectorAll("select[data-search]").forEach(enhance);
  document.addEventListener("DOMContentLoaded", () => enhanceAll(document));
  document.addEventListener("htmx:load", (event) => enhanceAll(event.target));
})();
