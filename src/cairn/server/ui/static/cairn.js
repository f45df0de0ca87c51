// The dashboard's own behaviour, for every page: query autocomplete, column picker, run
// selection. Charts live in charts.js. Everything here also works after HTMX swaps a part of
// the page, because it is attached through htmx.onLoad or delegated from the document.
"use strict";

(function () {
  // -- query autocomplete --------------------------------------------------------------------
  // Completes the field name under the cursor from the project's fields (embedded as JSON).
  function setUpAutocomplete(input) {
    const source = document.getElementById("query-fields");
    const list = document.getElementById("completions");
    if (!source || !list || input.dataset.completing) return;
    input.dataset.completing = "1";
    const fields = JSON.parse(source.textContent);
    let active = -1;

    function wordAtCursor() {
      const upto = input.value.slice(0, input.selectionStart);
      const match = upto.match(/[A-Za-z0-9_./"'-]*$/);
      return { text: match ? match[0] : "", start: upto.length - (match ? match[0].length : 0) };
    }
    function close() { list.hidden = true; list.innerHTML = ""; active = -1; }
    function choose(value) {
      const word = wordAtCursor();
      const end = input.selectionStart;
      input.value = input.value.slice(0, word.start) + value + " " + input.value.slice(end);
      const caret = word.start + value.length + 1;
      input.setSelectionRange(caret, caret);
      close();
      input.focus();
    }
    function highlight(index) {
      const items = list.querySelectorAll("li");
      items.forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
      active = index;
    }
    input.addEventListener("input", () => {
      const word = wordAtCursor().text.toLowerCase();
      if (word.length < 1) return close();
      const hits = fields.filter((f) => f.toLowerCase().startsWith(word) && f.toLowerCase() !== word)
        .concat(fields.filter((f) => !f.toLowerCase().startsWith(word) && f.toLowerCase().includes(word)))
        .slice(0, 12);
      if (!hits.length) return close();
      list.innerHTML = "";
      for (const hit of hits) {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.textContent = hit;  // text, never HTML: keys may hold anything
        li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(hit); });
        list.appendChild(li);
      }
      list.hidden = false;
      highlight(0);
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      const count = list.children.length;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % count); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + count) % count); }
      else if (event.key === "Tab" || (event.key === "Enter" && active >= 0 && !event.ctrlKey)) {
        if (active >= 0) { event.preventDefault(); choose(list.children[active].textContent); }
      } else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", () => setTimeout(close, 100));
  }

  // -- column picker: the checked boxes become one "cols" parameter ---------------------------
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("[data-join-cols]")) return;
    const checked = [...form.querySelectorAll("input[name=col]:checked")].map((box) => box.value);
    let hidden = form.querySelector("input[name=cols]");
    if (!hidden) {
      hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "cols";
      form.appendChild(hidden);
    }
    hidden.value = checked.join(",");
    form.querySelectorAll("input[name=col]").forEach((box) => { box.disabled = true; });
  });

  // -- run selection for compare --------------------------------------------------------------
  function updateSelection() {
    const boxes = document.querySelectorAll("input[name=runs][form=select-form]");
    const chosen = [...boxes].filter((box) => box.checked).length;
    const count = document.getElementById("selected-count");
    const button = document.getElementById("compare-button");
    if (count) count.textContent = String(chosen);
    if (button) button.disabled = chosen < 2 || chosen > 20;
  }
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "select-all") {
      document.querySelectorAll("input[name=runs][form=select-form]").forEach((box) => { box.checked = target.checked; });
    }
    if (target.id === "select-all" || target.matches("input[name=runs]")) updateSelection();
    if (target.id === "only-differences") {
      document.getElementById("diff-table").classList.toggle("only-diff", target.checked);
    }
    // A select that applies at once (the projects page's metric and goal); no inline onchange,
    // so the Content-Security-Policy can forbid inline script.
    if (target.matches("[data-submit-on-change]")) target.form.requestSubmit();
  });

  function onLoad(root) {
    const input = (root.querySelector && root.querySelector("#query")) || document.getElementById("query");
    if (input) setUpAutocomplete(input);
    updateSelection();
  }
  if (window.htmx) {
    htmx.onLoad(onLoad);
  } else {
    document.addEventListener("DOMContentLoaded", () => onLoad(document));
  }
})();
