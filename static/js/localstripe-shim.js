/*
 * Only for localstripe's Stripe.js stand-in (offline development and tests);
 * pages include it only when STRIPE_API_BASE points at the emulator, and it
 * does nothing next to real Stripe.js.
 *
 * The stand-in declares a top-level `class Element`. In a classic script that
 * binding shadows the DOM's `Element` for every script of the page, so htmx's
 * `instanceof Element` checks fail and htmx stops processing the page. This
 * gives the page the DOM's Element back, and hands the stand-in its own class
 * only while its functions that need it run (synchronously).
 *
 * It also gives the stand-in the createPaymentMethod of real Stripe.js
 * (below), so the checkout pays a new card with one 3-D Secure challenge on
 * both.
 */
(function () {
  "use strict";

  if (typeof window.Stripe !== "function" || Element === window.Element) {
    return;
  }
  var StandInElement = Element;
  var DomElement = window.Element;
  Element = DomElement; // eslint-disable-line no-global-assign

  function withStandIn(fn) {
    return function () {
      Element = StandInElement; // eslint-disable-line no-global-assign
      try {
        return fn.apply(this, arguments);
      } finally {
        Element = DomElement; // eslint-disable-line no-global-assign
      }
    };
  }

  var standInStripe = window.Stripe;
  window.Stripe = function (key) {
    var stripe = standInStripe(key);
    var elements = stripe.elements;
    stripe.elements = function () {
      var made = elements.apply(this, arguments);
      made.create = withStandIn(made.create);
      return made;
    };
    // Its card check (`card instanceof Element`) runs before its first await.
    stripe.confirmCardSetup = withStandIn(stripe.confirmCardSetup);
    stripe.createPaymentMethod = createPaymentMethod(key);
    return stripe;
  };

  // Real Stripe.js's createPaymentMethod({type: "card", card}), which the
  // stand-in lacks (its own is an empty stub). localstripe lets a browser
  // (publishable key) create a payment method only by confirming a
  // SetupIntent with payment_method_data, so this takes that SetupIntent's
  // secret (setupIntentClientSecret; static/js/api.js fetches one when it
  // sees needsSetupIntent). It does what the stand-in's confirmCardSetup
  // does, without its 3-D Secure dialog: a 3-D Secure card's SetupIntent is
  // cancelled instead, and the payment's own challenge is the only one.
  // Card data goes to the emulator only, as with Stripe.js.
  function createPaymentMethod(key) {
    function post(path, body) {
      return fetch(LOCALSTRIPE_BASE_API + path, {
        method: "POST",
        body: JSON.stringify(Object.assign({ key: key }, body)),
      }).then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            return { ok: response.status === 200 && !data.error, data: data };
          });
      });
    }

    function make(params) {
      var value = params && params.card && params.card.value;
      var secret = (params && params.setupIntentClientSecret) || "";
      var seti = (secret.match(/^(seti_\w+)_secret_/) || [])[1];
      if (!value || !value.card || !seti) {
        return Promise.resolve({
          error: { type: "validation_error", message: "Your card number is incomplete." },
        });
      }
      var path = "/v1/setup_intents/" + seti;
      return post(path + "/confirm", {
        client_secret: secret,
        payment_method_data: {
          type: "card",
          card: value.card,
          billing_details: { address: { postal_code: value.postal_code } },
        },
      }).then(function (confirmed) {
        if (!confirmed.ok) {
          return { error: confirmed.data.error || {} };
        }
        var done =
          confirmed.data.status === "requires_action"
            ? post(path + "/cancel", { client_secret: secret })
            : Promise.resolve();
        return done.then(function () {
          return { paymentMethod: { id: confirmed.data.payment_method } };
        });
      });
    }
    make.needsSetupIntent = true;
    return make;
  }
})();
