// lvs-sidecar status page: auto-refresh and a confirmation before a
// drain. Plain JavaScript, no framework; without it the page still works
// (reload it by hand; the buttons are plain forms).
(function () {
  'use strict';

  var body = document.body;
  var every = parseInt(body.getAttribute('data-refresh'), 10) || 0;
  var toggle = document.getElementById('auto-refresh');
  var note = document.getElementById('refresh-note');
  // Sections the user opened or closed by hand keep that state across
  // refreshes; the others follow the server (open while a problem lasts).
  var chosen = {};
  var timer = null;

  document.querySelectorAll('.js-only').forEach(function (el) { el.hidden = false; });

  document.addEventListener('click', function (ev) {
    var summary = ev.target.closest && ev.target.closest('summary');
    if (summary && summary.parentElement.id) {
      chosen[summary.parentElement.id] = !summary.parentElement.open;
    }
  });

  // A drain asks first; lifting a maintenance does not. The button that
  // submits carries enabled=true or false.
  document.addEventListener('submit', function (ev) {
    var f = ev.target;
    var by = ev.submitter || (f.elements && f.elements.enabled);
    if (!by || by.name !== 'enabled' || by.value !== 'true') {
      return;
    }
    var msg = 'Put ' + f.elements.server.value + ' of ' + f.elements.service.value + ' into maintenance (drain it)?';
    if (!window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  // busy: the user is in a form of the live part (typing a reason):
  // replacing it now would lose what they typed.
  function busy() {
    var el = document.activeElement;
    return el && el.form && el.closest('#live') !== null;
  }

  function swap(doc, id) {
    var old = document.getElementById(id);
    var fresh = doc.getElementById(id);
    if (!old || !fresh) {
      return;
    }
    fresh.querySelectorAll('details[id]').forEach(function (d) {
      if (Object.prototype.hasOwnProperty.call(chosen, d.id)) {
        d.open = chosen[d.id];
      }
    });
    old.replaceWith(document.importNode(fresh, true));
  }

  function schedule() {
    clearTimeout(timer);
    if (every > 0 && toggle && toggle.checked) {
      timer = setTimeout(refresh, every * 1000);
    }
  }

  function refresh() {
    if (document.hidden || busy()) {
      schedule();
      return;
    }
    fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html' } })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error('HTTP ' + resp.status);
        }
        return resp.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        swap(doc, 'header-live');
        swap(doc, 'live');
        note.textContent = 'updated ' + new Date().toLocaleTimeString();
      })
      .catch(function (err) {
        note.textContent = 'refresh failed (' + err.message + '); retrying';
      })
      .then(schedule);
  }

  if (toggle) {
    if (every <= 0) {
      every = 10;
    }
    toggle.addEventListener('change', schedule);
  }
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) {
      schedule();
    }
  });
  schedule();
}());
