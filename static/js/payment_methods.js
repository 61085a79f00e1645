/*
 * Add a card on the saved-cards page: Stripe.js collects it
 * (confirmCardSetup on a SetupIntent from POST /api/payments/setup-intent),
 * then POST /api/payments/methods saves it, and the list is reloaded through
 * htmx. Works with real Stripe.js and with localstripe's stand-in.
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
  var config = form.dataset;
  var cardError = form.querySelector('[data-error="card"]');
  var statusLine = form.querySelector("[data-status]");
  var saveButton = form.querySelector("[data-save-button]");
  var makeDefault = form.querySelector("[data-make-default]");
  var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var busy = false;

  var STAND_IN_LABELS = {
    number: "Card number",
    exp_month: "Expiry month (MM)",
    exp_year: "Expiry year (YY)",
    cvc: "Security code (CVC)",
    postal_code: "Postal code",
  };

  function message(key) {
    return config["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || "";
  }

  function setBusy(on) {
    busy = on;
    saveButton.disabled = on;
    saveButton.setAttribute("aria-busy", on ? "true" : "false");
  }

  function api(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken,
      },
      body: JSON.stringify(body || {}),
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (response.ok && data && data.success !== false) {
              return data;
            }
            var error = (data && data.error) || {};
            if (response.status === 401) {
              throw new Error(message("session"));
            }
            throw new Error(error.message || message("error"));
          });
      },
      function () {
        throw new Error(message("network"));
      }
    );
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

  var stripe = window.Stripe(config.stripeKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  form.querySelectorAll("#card-element input").forEach(function (input) {
    var label = STAND_IN_LABELS[input.getAttribute("placeholder")];
    if (label && !input.hasAttribute("aria-label")) {
      input.setAttribute("aria-label", label);
    }
  });
  card.on("change", function (event) {
    cardError.textContent = event && event.error ? event.error.message : "";
  });
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
    api(config.setupIntentUrl)
      .then(function (setup) {
        return stripe.confirmCardSetup(setup.clientSecret, {
          payment_method: { card: card },
        });
      })
      .then(function (result) {
        var pm = result && !result.error && result.setupIntent && result.setupIntent.payment_method;
        var id = pm && typeof pm === "object" ? pm.id : pm;
        if (!id) {
          throw new Error((result && result.error && result.error.message) || message("cardFailed"));
        }
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
