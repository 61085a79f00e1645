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
    return stripe;
  };
})();
