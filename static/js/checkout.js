/*
 * Checkout (DESIGN.md "Checkout in the browser"): pay a booking with a saved
 * card or a new one, through the payments API and Stripe.js.
 *
 * Works with real Stripe.js and with localstripe's stand-in, so it only uses
 * what both have: Stripe(key), elements().create("card"),
 * createPaymentMethod({type: "card", card}) (the stand-in's from
 * localstripe-shim.js) and confirmCardPayment(intentSecret) for 3-D Secure.
 *
 *   new card:   createPaymentMethod -> a pm_ id, not checked with the bank yet
 *   then:       POST create-intent {bookingId}            (same open intent on retry;
 *               one left waiting for 3-D Secure is replaced)
 *               POST confirm {paymentIntentId, paymentMethodId, saveCard}
 *   3-D Secure: confirmCardPayment(clientSecret), then POST confirm again
 *               (idempotent: the server reads the intent's outcome from Stripe)
 *   success:    go to the booking page, whose payment status is live. A card
 *               to save is saved by the server with the payment, so a new card
 *               meets one bank challenge, the payment's.
 *
 * A decline (402) says so next to the card ("Nothing was charged") and the
 * form stays usable: the next create-intent opens a fresh intent. 3-D Secure
 * outcomes are told in our words, never Stripe's raw text. The Pay button is
 * disabled while a payment runs, so it cannot be sent twice.
 *
 * Without JavaScript the form posts to the page itself, which can pay with a
 * saved card. Configuration and wording come from data-* attributes of
 * form[data-checkout]; no inline script (the CSP forbids it). The API calls
 * and the card field are static/js/api.js's (window.PaymentsApi).
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-checkout]");
  if (!form) {
    return;
  }
  var PaymentsApi = window.PaymentsApi;
  var ApiError = PaymentsApi.ApiError;
  var config = form.dataset;
  var message = PaymentsApi.messages(form);
  // A lost login comes back as 401, or as 403 "not_authenticated" for a
  // session cookie; only a 403 "forbidden" is a refusal to show as it is.
  var api = PaymentsApi.poster(form, [401, 403]);
  var payButton = form.querySelector("[data-pay-button]");
  var statusLine = form.querySelector("[data-status]");
  var cardError = form.querySelector('[data-error="card"]');
  var methodError = form.querySelector('[data-error="method"]');
  var newCardPanel = form.querySelector("[data-new-card-panel]");
  var saveCard = form.querySelector("[data-save-card]");

  var stripe = null;
  var mounted = null;
  var busy = false;
  var expired = false;

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

  // --- paying ------------------------------------------------------------------

  function newCardToPaymentMethod() {
    say(message("checking"));
    return PaymentsApi.cardToPaymentMethod(api, config.setupIntentUrl, mounted, message);
  }

  // What a 3-D Secure outcome means for the client, in our words: Stripe.js's
  // messages are for developers ("The provided PaymentMethod has failed
  // authentication", or the emulator's "Bad request").
  function authenticationProblem(result) {
    var error = (result && result.error) || {};
    var intent = result && result.paymentIntent;
    if (!result.error && intent && intent.status !== "requires_payment_method") {
      return "";
    }
    if (error.type === "api_connection_error") {
      return message("authNetwork");
    }
    if (error.code === "card_declined" || error.decline_code) {
      return message("declined");
    }
    if (!result.error || /authentication_failure$/.test(error.code || "")) {
      // Refused at the bank, or the client closed the dialog.
      return message("authFailed");
    }
    // The intent moved on meanwhile (paid or replaced in another tab) or
    // Stripe answered something else: nothing was charged by this attempt.
    return message("authError");
  }

  function authenticate(confirmed) {
    if (!stripe) {
      return Promise.reject(new ApiError(message("noStripe"), 0, "no_stripe"));
    }
    say(message("authenticating"));
    return stripe.confirmCardPayment(confirmed.clientSecret).then(
      function (result) {
        var problem = authenticationProblem(result || {});
        if (problem) {
          throw new ApiError(problem, 402, "authentication_failed");
        }
      },
      function () {
        throw new ApiError(message("authNetwork"), 402, "authentication_failed");
      }
    );
  }

  // The server's answer in the client's words where we know better.
  function explain(error) {
    if (error && error.code === "card_declined") {
      return message("declined");
    }
    return (error && error.message) || message("error");
  }

  // Paid meanwhile (the bank's answer reached Stripe before the client came
  // back): nothing to pay, the booking page shows the payment.
  function alreadyPaid(error) {
    var details = (error && error.details) || {};
    return (
      error &&
      error.status === 409 &&
      (details.bookingStatus === "confirmed" || details.paymentStatus === "succeeded")
    );
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
          saveCard: Boolean(newCard && saveCard && saveCard.checked),
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
        // Paid, processing or still settling: the booking page shows the
        // live status from here on.
        say(message("paid"));
        window.location.assign(config.successUrl);
      })
      .catch(function (error) {
        if (alreadyPaid(error)) {
          say(message("paid"));
          window.location.assign(config.successUrl);
          return;
        }
        var text = explain(error);
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
    mounted = PaymentsApi.mountCard(config.stripeKey, cardError);
    stripe = mounted.stripe;
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
