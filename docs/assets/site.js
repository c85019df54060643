// Linked version tabs inside folded outputs (predict=). Material's content.tabs.link
// matches tabs by their rendered text, and a closed <details> renders none: its tab sets
// would keep their first tab. These two listeners, on the document (so they outlive
// instant navigation), choose the same tab there: when a reader picks a tab anywhere,
// and when a fold opens (for the tab Material remembers from an earlier page).
(() => {
  const chooseInFolds = (text, folds) => {
    for (const fold of folds) {
      for (const label of fold.querySelectorAll(".tabbed-set > .tabbed-labels > label")) {
        if (label.textContent.trim() === text) document.getElementById(label.htmlFor).checked = true;
      }
    }
  };
  document.addEventListener("change", (event) => {
    const input = event.target;
    const set = input instanceof HTMLInputElement && input.checked ? input.closest(".tabbed-set") : null;
    const label = set && set.querySelector(`:scope > .tabbed-labels > label[for="${input.id}"]`);
    if (label) chooseInFolds(label.textContent.trim(), document.querySelectorAll("details.pylive-answer:not([open])"));
  });
  document.addEventListener("toggle", (event) => {  // toggle does not bubble: listen while it descends
    const fold = event.target;
    if (!(fold instanceof HTMLDetailsElement) || !fold.open || !fold.matches(".pylive-answer")) return;
    for (const text of [...(__md_get("__tabs") || [])].reverse()) chooseInFolds(text, [fold]);  // latest wins
  }, true);
})();
