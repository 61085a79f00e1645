/*
 * Small enhancements of the client's pages; each page works without them.
 *
 * - Coach page: offer the browser's own time zone ([data-browser-tz]) when it
 *   differs from the one the times are shown in.
 * - Receipt: a Print button ([data-print]).
 *
 * No inline script anywhere: the Content-Security-Policy forbids it.
 */
(function () {
  "use strict";

  function offerBrowserZone() {
    var box = document.querySelector("[data-browser-tz]");
    if (!box || !window.Intl || !Intl.DateTimeFormat) {
      return;
    }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var known = Array.prototype.some.call(
      document.querySelectorAll("#tz-list option"),
      function (option) {
        return option.value === zone;
      }
    );
    if (!zone || !known || zone === box.dataset.currentTz) {
      return;
    }
    var link = box.querySelector("a");
    link.href =
      box.dataset.baseUrl + "&tz=" + encodeURIComponent(zone) + "#times-heading";
    link.textContent = box.dataset.label.replace("%s", zone);
    box.hidden = false;
  }

  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    });
  }

  offerBrowserZone();
  printButtons();
})();
