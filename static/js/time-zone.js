/*
 * Sign-up: fill the hidden time zone field ([data-browser-tz]) with the
 * browser's own zone, so a new account reads times in it from the start.
 * Without JavaScript the field stays empty and the site's default is used;
 * the server accepts only zones it knows. No inline script: the CSP forbids it.
 */
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) {
    return;
  }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  document.querySelectorAll("input[data-browser-tz]").forEach(function (input) {
    if (!input.value) {
      input.value = zone;
    }
  });
})();
