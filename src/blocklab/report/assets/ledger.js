// The ledger's filters: show only the rows whose verdict (or the verdict a provisional one would be)
// and source document match the two menus.
// Plain JavaScript on the page's own rows; nothing is fetched, so it works from file://.
(function () {
  "use strict";
  var verdict = document.getElementById("verdict");
  var source = document.getElementById("document");
  var shown = document.getElementById("shown");
  var rows = document.querySelectorAll("table.ledger > tbody > tr");

  function apply() {
    var count = 0;
    rows.forEach(function (row) {
      // a provisional claim also shows under the verdict it would be
      var keep = (!verdict.value || row.dataset.verdict === verdict.value || row.dataset.wouldBe === verdict.value) &&
                 (!source.value || row.dataset.document === source.value);
      row.hidden = !keep;
      if (keep) { count += 1; }
    });
    shown.textContent = "showing " + count + " of " + rows.length + " claims";
  }

  // ledger.html#verdict=refuted opens the ledger filtered (the index's tally links here).
  var match = /^#verdict=(.+)$/.exec(window.location.hash);
  if (match) { verdict.value = decodeURIComponent(match[1]); }
  verdict.addEventListener("change", apply);
  source.addEventListener("change", apply);
  apply();
}());
