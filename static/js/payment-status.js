/*
 * Live payment status (DESIGN.md "Real time").
 *
 * Keeps every payment-status fragment on the page current: elements with
 * data-booking-id and data-status-url, as rendered by
 * templates/payments/partials/_payment_status.html. Several per page are fine
 * (dashboards); fragments that htmx adds later are picked up too.
 *
 * - One WebSocket to /ws/payments/ per page, subscribed to every booking shown.
 *   The server answers each subscribe with the current state at once, then
 *   sends one "payment.status" message per change.
 * - A message whose version is newer than the fragment's data-version makes
 *   htmx fetch the fragment from data-status-url and swap it in (outerHTML).
 *   Older or equal versions are dropped.
 * - When the socket closes or fails, the fragments are polled instead: the
 *   first poll after 1 s, then the wait doubles up to 30 s, and goes back to
 *   1 s whenever a poll brings a change. Polling stops once every fragment is
 *   final (data-final="true": nothing about that booking's money can change
 *   any more, see payments.views.payment_status_context) or the socket is back.
 * - The socket is retried meanwhile, 1 s doubling to 30 s (with some jitter so
 *   that a restarted server is not hit by every page at once). Once a new
 *   socket delivers its first message it counts as back: the wait resets and
 *   polling stops. Every (re)connection subscribes again, so the snapshots
 *   catch up whatever was missed (channel-layer delivery is at most once).
 * - While open, the socket sends a ping every 25 s: it keeps idle sockets
 *   alive through proxies' read timeouts, and a socket whose previous ping
 *   got no answer is taken for dead (closed, then retried as above).
 *
 * Why not the htmx ws extension: it swaps HTML that the server pushes, while
 * /ws/payments/ sends JSON (the same feed API clients use); it reconnects only
 * after some close codes and has no hook for a polling fallback. htmx still
 * makes every request and swap here, so htmx events and attributes apply.
 *
 * <html data-payments-feed="..."> tells CSS and tests how the page is kept
 * current: "connecting", "live" (socket), "polling" (socket down) or "idle"
 * (socket down, all fragments final).
 *
 * No inline script anywhere: the Content-Security-Policy forbids it.
 */
(function () {
  "use strict";

  var WS_PATH = "/ws/payments/";
  var FIRST_DELAY_MS = 1000;
  var MAX_DELAY_MS = 30000;
  var SELECTOR = "[data-booking-id][data-status-url]";
  var HEARTBEAT_MS = 25000;

  var socket = null; // the current WebSocket, or null while down
  var live = false; // the current socket has delivered a message
  var subscribed = new Set(); // booking ids subscribed on the current socket
  var heartbeat = null; // interval timer of the current socket's pings
  var answered = true; // something arrived since the last ping
  var reconnectDelay = FIRST_DELAY_MS;
  var reconnectTimer = null;
  var polling = false; // a polling round is scheduled or running
  var pollDelay = FIRST_DELAY_MS;
  var pollTimer = null;
  var announced = new Map(); // booking id -> newest version the socket announced
  var refreshing = new Map(); // booking id -> promise of the refresh in flight

  function setFeed(state) {
    document.documentElement.setAttribute("data-payments-feed", state);
  }

  function fragments(bookingId) {
    var all = Array.prototype.slice.call(document.querySelectorAll(SELECTOR));
    if (bookingId === undefined) {
      return all;
    }
    return all.filter(function (el) {
      return el.getAttribute("data-booking-id") === bookingId;
    });
  }

  function bookingIds() {
    var ids = [];
    fragments().forEach(function (el) {
      var id = el.getAttribute("data-booking-id");
      if (ids.indexOf(id) < 0) {
        ids.push(id);
      }
    });
    return ids;
  }

  function versionOf(el) {
    var version = parseInt(el.getAttribute("data-version"), 10);
    return isNaN(version) ? 0 : version;
  }

  // The version the page shows for a booking: its oldest copy's.
  function shownVersion(bookingId) {
    var versions = fragments(bookingId).map(versionOf);
    return versions.length ? Math.min.apply(null, versions) : Infinity;
  }

  function isFinal(bookingId) {
    return fragments(bookingId).every(function (el) {
      return el.getAttribute("data-final") === "true";
    });
  }

  function unfinished() {
    return bookingIds().filter(function (id) {
      return !isFinal(id);
    });
  }

  // Fetch a booking's fragment and swap it in. Resolves to true when the page
  // now shows a newer version than before.
  function refresh(bookingId) {
    if (refreshing.has(bookingId)) {
      return refreshing.get(bookingId);
    }
    var els = fragments(bookingId);
    if (!els.length) {
      return Promise.resolve(false);
    }
    var before = shownVersion(bookingId);
    var requests = els.map(function (el) {
      return window.htmx.ajax("GET", el.getAttribute("data-status-url"), {
        source: el,
        target: el,
        swap: "outerHTML",
      });
    });
    var done = Promise.all(requests)
      .catch(function () {
        return null; // a network error: the caller backs off
      })
      .then(function () {
        refreshing.delete(bookingId);
        var changed = shownVersion(bookingId) > before;
        // A newer change was announced while this request was on its way.
        if (changed && (announced.get(bookingId) || 0) > shownVersion(bookingId)) {
          refresh(bookingId);
        }
        return changed;
      });
    refreshing.set(bookingId, done);
    return done;
  }

  // --- WebSocket -------------------------------------------------------------

  function connect() {
    reconnectTimer = null;
    if (socket !== null || !fragments().length) {
      return;
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + WS_PATH);
    } catch (error) {
      socketDown();
      return;
    }
    socket = ws;
    live = false;
    subscribed = new Set();
    if (!polling) {
      setFeed("connecting");
    }
    ws.addEventListener("open", function () {
      if (socket === ws) {
        subscribeAll();
        answered = true;
        heartbeat = window.setInterval(function () {
          ping(ws);
        }, HEARTBEAT_MS);
      }
    });
    ws.addEventListener("message", function (event) {
      if (socket === ws) {
        answered = true;
        received(event.data);
      }
    });
    ws.addEventListener("close", function () {
      // An error is always followed by a close.
      if (socket === ws) {
        drop(ws);
      }
    });
  }

  function ping(ws) {
    if (!answered) {
      ws.close(); // its close event may take long on a dead link: go on now
      drop(ws);
      return;
    }
    answered = false;
    ws.send(JSON.stringify({ type: "ping" }));
  }

  function drop(ws) {
    if (socket !== ws) {
      return;
    }
    window.clearInterval(heartbeat);
    heartbeat = null;
    socket = null;
    socketDown();
  }

  function subscribeAll() {
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    bookingIds().forEach(function (id) {
      if (!subscribed.has(id)) {
        subscribed.add(id);
        socket.send(JSON.stringify({ type: "subscribe", bookingId: id }));
      }
    });
  }

  function received(raw) {
    var message;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      return;
    }
    if (!live) {
      live = true;
      reconnectDelay = FIRST_DELAY_MS;
      stopPolling();
      setFeed("live");
    }
    if (!message || message.type !== "payment.status" || !message.bookingId) {
      return;
    }
    var id = String(message.bookingId);
    var version = Number(message.version) || 0;
    if (version > (announced.get(id) || 0)) {
      announced.set(id, version);
    }
    if (version > shownVersion(id)) {
      refresh(id);
    }
  }

  function socketDown() {
    live = false;
    startPolling();
    if (reconnectTimer === null) {
      var jitter = 0.8 + Math.random() * 0.4;
      reconnectTimer = window.setTimeout(connect, reconnectDelay * jitter);
      reconnectDelay = Math.min(reconnectDelay * 2, MAX_DELAY_MS);
    }
  }

  // --- Polling while the socket is down ------------------------------------

  function startPolling() {
    if (polling || live) {
      return;
    }
    if (!unfinished().length) {
      setFeed("idle");
      return;
    }
    polling = true;
    pollDelay = FIRST_DELAY_MS;
    setFeed("polling");
    pollTimer = window.setTimeout(poll, pollDelay);
  }

  function stopPolling() {
    polling = false;
    if (pollTimer !== null) {
      window.clearTimeout(pollTimer);
      pollTimer = null;
    }
  }

  function poll() {
    pollTimer = null;
    if (!polling) {
      return;
    }
    Promise.all(unfinished().map(refresh)).then(function (changes) {
      if (!polling) {
        return; // the socket came back meanwhile
      }
      if (!unfinished().length) {
        stopPolling();
        setFeed("idle");
        return;
      }
      var changed = changes.some(Boolean);
      pollDelay = changed ? FIRST_DELAY_MS : Math.min(pollDelay * 2, MAX_DELAY_MS);
      pollTimer = window.setTimeout(poll, pollDelay);
    });
  }

  // --- Start, and follow fragments that htmx adds --------------------------

  function contentLoaded() {
    if (!fragments().length) {
      return;
    }
    if (socket === null && reconnectTimer === null) {
      connect();
      return;
    }
    subscribeAll();
    if (socket === null && !live) {
      startPolling();
    }
  }

  if (window.htmx) {
    // Runs once for the page, then for every piece of content htmx swaps in.
    window.htmx.onLoad(contentLoaded);
  }
})();
