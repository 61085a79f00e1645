/*
 * Checkout (DESIGN.md "Checkout in the browser"): pay a booking with a saved
 * card or a new one, through the payments API and Stripe.js.
 *
 * Works with real Stripe.js and with localstripe's stand-in, so it only uses
 * what both have: Stripe(key), elements().create("card"),
 * confirmCardSetup(setupSecret, {payment_method: {card}}) and
 * confirmCardPayment(intentSecret) for 3-D Secure.
 *
 *   new card:   POST setup-intent -> confirmCardSetup -> a pm_ id
 *   then:       POST create-intent {bookingId}            (same open intent on retry)
 *               POST confirm {paymentIntentId, paymentMethodId}
 *   3-D Secure: confirmCardPayment(clientSecret), then POST confirm again
 *               (idempotent: the server reads the intent's outcome from Stripe)
 *   success:    optionally save the card, then go to the booking page, whose
 *               payment status is live.
 *
 * A decline (402) shows Stripe's message next to the card and the form stays
 * usable: the next create-intent opens a fresh intent. The Pay button is
 * disabled while a payment runs, so it cannot be sent twice.
 *
 * Without JavaScript the form posts to the page itself, which can pay with a
 * saved card. Configuration and wording come from data-* attributes of
 * form[data-checkout]; no inline script (the CSP forbids it).
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-checkout]");
  if (!form) {
    return;
  }
  var config = form.dataset;
  var payButton = form.querySelector("[data-pay-button]");
  var statusLine = form.querySelector("[data-status]");
  var cardError = form.querySelector('[data-error="card"]');
  var methodError = form.querySelector('[data-error="method"]');
  var newCardPanel = form.querySelector("[data-new-card-panel]");
  var saveCard = form.querySelector("[data-save-card]");
  var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  var stripe = null;
  var cardElement = null;
  var busy = false;
  var expired = false;

  // Labels for the stand-in's plain inputs (real Stripe.js labels its own iframe).
  var STAND_IN_LABELS = {
    number: ["Card number", "cc-number"],
    exp_month: ["Expiry month (MM)", "cc-exp-month"],
    exp_year: ["Expiry year (YY)", "cc-exp-year"],
    cvc: ["Security code (CVC)", "cc-csc"],
    postal_code: ["Postal code", "postal-code"],
  };

  function message(key) {
    return config["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || "";
  }

  function say(text) {
    statusLine.textContent = text;
  }

  function clearErrors() {
    cardError.textContent = "";
    methodError.textContent = "";
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
  }

  function showError(where, text) {
    where.textContent = text;
    say("");
  }

  function setBusy(on) {
    busy = on;
    payButton.disabled = on || expired;
    payButton.setAttribute("aria-busy", on ? "true" : "false");
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function selectedMethod() {
    var checked = form.querySelector("input[name=payment_method]:checked");
    return checked ? checked.value : "new";
  }

  function usesNewCard() {
    return selectedMethod() === "new";
  }

  function showPanel() {
    newCardPanel.hidden = !usesNewCard();
  }

  // --- the API -----------------------------------------------------------------

  function ApiError(text, status, code) {
    this.message = text;
    this.status = status;
    this.code = code;
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
            var text = error.message || message("error");
            if (response.status === 401 || response.status === 403) {
              text = error.code === "forbidden" ? text : message("session");
            }
            throw new ApiError(text, response.status, error.code || "");
          });
      },
      function () {
        throw new ApiError(message("network"), 0, "network");
      }
    );
  }

  // --- paying ------------------------------------------------------------------

  function paymentMethodId(setupIntent) {
    var pm = setupIntent && setupIntent.payment_method;
    return pm && typeof pm === "object" ? pm.id : pm;
  }

  function newCardToPaymentMethod() {
    say(message("checking"));
    return api(config.setupIntentUrl).then(function (setup) {
      return stripe
        .confirmCardSetup(setup.clientSecret, {
          payment_method: { card: cardElement },
        })
        .then(function (result) {
          var id = result && !result.error && paymentMethodId(result.setupIntent);
          if (!id) {
            var error = (result && result.error) || {};
            throw new ApiError(error.message || message("cardFailed"), 402, "card");
          }
          return id;
        });
    });
  }

  function authenticate(confirmed) {
    if (!stripe) {
      return Promise.reject(new ApiError(message("noStripe"), 0, "no_stripe"));
    }
    say(message("authenticating"));
    return stripe.confirmCardPayment(confirmed.clientSecret).then(function (result) {
      var intent = result && result.paymentIntent;
      // Real Stripe.js reports a failed authentication as an error; the
      // stand-in as an intent back at requires_payment_method.
      if (!result || result.error || !intent || intent.status === "requires_payment_method") {
        throw new ApiError(message("authFailed"), 402, "authentication_failed");
      }
    });
  }

  function pay() {
    var newCard = usesNewCard();
    var methodId = newCard ? null : selectedMethod();
    var request = null;
    setBusy(true);
    clearErrors();

    var chosen = newCard ? newCardToPaymentMethod() : Promise.resolve(methodId);
    chosen
      .then(function (id) {
        methodId = id;
        say(message("paying"));
        return api(config.createIntentUrl, { bookingId: config.bookingId });
      })
      .then(function (created) {
        request = {
          paymentIntentId: created.paymentIntent.id,
          paymentMethodId: methodId,
        };
        return api(config.confirmUrl, request);
      })
      .then(function (confirmed) {
        if (!confirmed.requiresAction) {
          return confirmed;
        }
        return authenticate(confirmed).then(function () {
          say(message("paying"));
          return api(config.confirmUrl, request);
        });
      })
      .then(function (confirmed) {
        var status = confirmed.paymentIntent && confirmed.paymentIntent.status;
        if (status === "requires_payment_method") {
          throw new ApiError(message("authFailed"), 402, "authentication_failed");
        }
        var saving = Promise.resolve();
        if (newCard && saveCard && saveCard.checked) {
          // The payment went through; saving the card is a convenience, and
          // a failure to save must not look like a failed payment.
          saving = api(config.methodsUrl, {
            paymentMethodId: methodId,
            isDefault: false,
          }).catch(function () {});
        }
        return saving.then(function () {
          // Paid, processing or still settling: the booking page shows the
          // live status from here on.
          say(message("paid"));
          window.location.assign(config.successUrl);
        });
      })
      .catch(function (error) {
        var text = (error && error.message) || message("error");
        if (error && error.status === 402) {
          var where = newCard ? cardError : methodError;
          showError(where, text);
          if (!newCard) {
            var checked = form.querySelector("input[name=payment_method]:checked");
            if (checked) {
              checked.setAttribute("aria-invalid", "true");
            }
          }
        } else {
          showError(methodError, text);
        }
        setBusy(false);
      });
  }

  // --- the hold's countdown ----------------------------------------------------

  function startCountdown() {
    var hold = document.querySelector("[data-hold]");
    var countdown = hold && hold.querySelector("[data-countdown]");
    if (!countdown) {
      return;
    }
    // From the server's count, so a wrong clock on this device does not matter.
    var ends = Date.now() + Number(hold.dataset.secondsLeft || 0) * 1000;
    function tick() {
      var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      if (left <= 0) {
        window.clearInterval(timer);
        countdown.textContent = "";
        expired = true;
        if (!busy) {
          payButton.disabled = true;
          showError(methodError, message("expired"));
        }
        return;
      }
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      countdown.textContent =
        "(" +
        message("left")
          .replace("%(minutes)s", String(minutes))
          .replace("%(seconds)s", (seconds < 10 ? "0" : "") + seconds) +
        ")";
    }
    var timer = window.setInterval(tick, 1000);
    tick();
  }

  // --- start -------------------------------------------------------------------

  function mountCard() {
    if (typeof window.Stripe !== "function") {
      cardError.textContent = message("noStripe");
      return false;
    }
    stripe = window.Stripe(config.stripeKey);
    cardElement = stripe.elements().create("card");
    cardElement.mount("#card-element");
    newCardPanel.querySelectorAll("#card-element input").forEach(function (input) {
      var label = STAND_IN_LABELS[input.getAttribute("placeholder")];
      if (label && !input.hasAttribute("aria-label")) {
        input.setAttribute("aria-label", label[0]);
        input.setAttribute("autocomplete", label[1]);
        input.setAttribute("inputmode", label[1] === "postal-code" ? "text" : "numeric");
      }
    });
    cardElement.on("change", function (event) {
      cardError.textContent = event && event.error ? event.error.message : "";
    });
    return true;
  }

  var stripeReady = mountCard();
  form.querySelectorAll("input[name=payment_method]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      clearErrors();
      showPanel();
    });
  });
  showPanel();

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy || expired) {
      return;
    }
    if (usesNewCard() && !stripeReady) {
      showError(cardError, message("noStripe"));
      return;
    }
    pay();
  });

  // Coming back through the browser's history must not leave a dead form.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      setBusy(false);
      say("");
    }
  });

  startCountdown();
})();
