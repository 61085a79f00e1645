/*
 * Add a card on the saved-cards page: Stripe.js collects it
 * (confirmCardSetup on a SetupIntent from POST /api/payments/setup-intent),
 * then POST /api/payments/methods saves it, and the list is reloaded through
 * htmx. Works with real Stripe.js and with localstripe's stand-in; the API
 * calls and the card field are static/js/api.js's (window.PaymentsApi).
 *
 * Removing a card and choosing the default are plain forms (htmx-enhanced)
 * and need no script. Without JavaScript the add form stays hidden and a note
 * says why. Wording comes from data-msg-* attributes of form[data-add-card].
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-add-card]");
  if (!form || typeof window.Stripe !== "function") {
    return;
  }
  var PaymentsApi = window.PaymentsApi;
  var config = form.dataset;
  var message = PaymentsApi.messages(form);
  var api = PaymentsApi.poster(form);
  var cardError = form.querySelector('[data-error="card"]');
  var statusLine = form.querySelector("[data-status]");
  var saveButton = form.querySelector("[data-save-button]");
  var makeDefault = form.querySelector("[data-make-default]");
  var busy = false;

  function setBusy(on) {
    busy = on;
    saveButton.disabled = on;
    saveButton.setAttribute("aria-busy", on ? "true" : "false");
  }

  function reloadList() {
    var list = document.getElementById("payment-method-list");
    if (!list || !window.htmx) {
      window.location.reload();
      return Promise.resolve();
    }
    return window.htmx.ajax("GET", config.listUrl, {
      target: "#payment-method-list",
      swap: "outerHTML",
    });
  }

  var mounted = PaymentsApi.mountCard(config.stripeKey, cardError);
  var card = mounted.card;
  form.hidden = false;
  var note = document.querySelector("[data-js-note]");
  if (note) {
    note.hidden = true;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    setBusy(true);
    cardError.textContent = "";
    statusLine.textContent = message("saving");
    PaymentsApi.setupCard(api, config.setupIntentUrl, mounted, message)
      .then(function (id) {
        return api(config.methodsUrl, {
          paymentMethodId: id,
          isDefault: Boolean(makeDefault && makeDefault.checked),
        });
      })
      .then(function (saved) {
        var method = saved.paymentMethod || {};
        return reloadList().then(function () {
          var text = message("saved");
          if (method.brand && method.last4) {
            text = method.brand.charAt(0).toUpperCase() + method.brand.slice(1) +
              " •••• " + method.last4 + ": " + text;
          }
          statusLine.textContent = text;
          if (typeof card.clear === "function") {
            card.clear();
          }
          // The stand-in reads its inputs on "input" events only.
          form.querySelectorAll("#card-element input").forEach(function (input) {
            input.value = "";
            input.dispatchEvent(new Event("input"));
          });
          if (makeDefault) {
            makeDefault.checked = false;
          }
        });
      })
      .catch(function (error) {
        statusLine.textContent = "";
        cardError.textContent = error.message || message("error");
      })
      .then(function () {
        setBusy(false);
      });
  });
})();
