/*
 * What the pages that take a card share (checkout.js, payment_methods.js):
 * POSTs to the payments API in its envelope, and Stripe.js's card field,
 * turned into a payment method through a SetupIntent.
 *
 * Loaded before those scripts (deferred scripts run in order) through
 * templates/payments/partials/_card_scripts.html; exposes window.PaymentsApi.
 * Works with real Stripe.js and with localstripe's stand-in, so it only uses
 * what both have: Stripe(key), elements().create("card"),
 * confirmCardSetup(setupSecret, {payment_method: {card}}) to save a card, and
 * createPaymentMethod({type: "card", card}) to pay with one (the stand-in's
 * comes from static/js/localstripe-shim.js).
 */
(function () {
  "use strict";

  // Labels for the stand-in's plain inputs (real Stripe.js labels its own iframe).
  var STAND_IN_LABELS = {
    number: ["Card number", "cc-number"],
    exp_month: ["Expiry month (MM)", "cc-exp-month"],
    exp_year: ["Expiry year (YY)", "cc-exp-year"],
    cvc: ["Security code (CVC)", "cc-csc"],
    postal_code: ["Postal code", "postal-code"],
  };

  function ApiError(text, status, code, details) {
    this.message = text;
    this.status = status;
    this.code = code;
    this.details = details || {};
  }

  // The page's wording: message("cardFailed") reads data-msg-card-failed of form.
  function messages(form) {
    var config = form.dataset;
    return function message(key) {
      return config["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || "";
    };
  }

  // post(url, body) with form's CSRF token: resolves with the response body,
  // rejects with an ApiError (status 0 when the server was not reached). A
  // status in sessionStatuses (default [401]) means the login is gone, unless
  // the server says "forbidden".
  function poster(form, sessionStatuses) {
    var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var message = messages(form);
    var loggedOut = sessionStatuses || [401];

    return function post(url, body) {
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
              var text = error.message || message("error");
              if (loggedOut.indexOf(response.status) !== -1 && error.code !== "forbidden") {
                text = message("session");
              }
              throw new ApiError(text, response.status, error.code || "", error.details);
            });
        },
        function () {
          throw new ApiError(message("network"), 0, "network");
        }
      );
    };
  }

  // Mount Stripe.js's card field on #card-element; its complaints go to
  // errorLine. Needs window.Stripe. Returns {stripe, card}.
  function mountCard(stripeKey, errorLine) {
    var stripe = window.Stripe(stripeKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    document.querySelectorAll("#card-element input").forEach(function (input) {
      var label = STAND_IN_LABELS[input.getAttribute("placeholder")];
      if (label && !input.hasAttribute("aria-label")) {
        input.setAttribute("aria-label", label[0]);
        input.setAttribute("autocomplete", label[1]);
        input.setAttribute("inputmode", label[1] === "postal-code" ? "text" : "numeric");
      }
    });
    card.on("change", function (event) {
      errorLine.textContent = event && event.error ? event.error.message : "";
    });
    return { stripe: stripe, card: card };
  }

  // The card as a payment method to save: a SetupIntent from setupIntentUrl,
  // confirmed by Stripe.js (with the bank's check a card may need). Resolves
  // with its pm_ id; a refused card rejects with cardProblem's ApiError.
  function setupCard(post, setupIntentUrl, mounted, message) {
    return post(setupIntentUrl).then(function (setup) {
      return mounted.stripe
        .confirmCardSetup(setup.clientSecret, {
          payment_method: { card: mounted.card },
        })
        .then(function (result) {
          var pm = result && !result.error && result.setupIntent && result.setupIntent.payment_method;
          var id = pm && typeof pm === "object" ? pm.id : pm;
          if (!id) {
            throw cardProblem((result && result.error) || {}, message);
          }
          return id;
        });
    });
  }

  // The card as a payment method for paying now, without a check of its own:
  // the payment's 3-D Secure challenge (confirmCardPayment) is then the only
  // one the client sees (a SetupIntent would ask the bank first, and the
  // payment again). Real Stripe.js: createPaymentMethod. localstripe's
  // stand-in has none; static/js/localstripe-shim.js adds one that needs a
  // SetupIntent's secret (the emulator creates payment methods for the
  // browser only through one) and says so with needsSetupIntent. Resolves
  // with the pm_ id; rejects with an ApiError of status 402 and code
  // "card_declined" or "card" (Stripe.js's own complaint about the input,
  // shown as it is, else message("cardFailed")).
  function cardToPaymentMethod(post, setupIntentUrl, mounted, message) {
    var stripe = mounted.stripe;
    var params = { type: "card", card: mounted.card };
    var made = stripe.createPaymentMethod.needsSetupIntent
      ? post(setupIntentUrl).then(function (setup) {
          params.setupIntentClientSecret = setup.clientSecret;
          return stripe.createPaymentMethod(params);
        })
      : stripe.createPaymentMethod(params);
    return made.then(function (result) {
      var pm = result && !result.error && result.paymentMethod;
      if (pm && pm.id) {
        return pm.id;
      }
      throw cardProblem((result && result.error) || {}, message);
    });
  }

  // Stripe.js's complaint about a card, in the page's words: its own message
  // only for what the client typed (validation errors, written for people);
  // declines and failed bank checks in ours (data-msg-declined,
  // data-msg-auth-failed), anything else as message("cardFailed"). Stripe's
  // other texts are for developers (or, from the emulator, "Bad request").
  function cardProblem(error, message) {
    if (error.type === "validation_error" && error.message) {
      return new ApiError(error.message, 402, "card");
    }
    if (error.code === "card_declined" || error.decline_code) {
      return new ApiError(
        message("declined") || error.message || message("cardFailed"),
        402,
        "card_declined"
      );
    }
    // The stand-in's failed check has no code, only this wording.
    if (/authentication_failure$/.test(error.code || "") || /authentication failed/.test(error.message || "")) {
      return new ApiError(message("authFailed") || message("cardFailed"), 402, "authentication_failed");
    }
    return new ApiError(message("cardFailed"), 402, "card");
  }

  window.PaymentsApi = {
    ApiError: ApiError,
    messages: messages,
    poster: poster,
    mountCard: mountCard,
    setupCard: setupCard,
    cardToPaymentMethod: cardToPaymentMethod,
  };
})();
