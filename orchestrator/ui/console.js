// The console's one script: live updates of a running execution's page.
// Everything else works without it.  On each event of the page's stream
// (GET /ui/executions/ID/events) the steps part is fetched again as an
// HTML fragment rendered (and escaped) by the server and put in place;
// one fetch at a time, a second event meanwhile makes one more.
(function () {
	'use strict';
	var part = document.getElementById('steps');
	if (!part || !part.dataset.live || !window.EventSource)
		return;
	var id = part.dataset.live;
	var base = '/ui/executions/' + encodeURIComponent(id);
	var busy = false, again = false;

	function refresh() {
		if (busy) {
			again = true;
			return;
		}
		busy = true;
		fetch(base + '/steps', { credentials: 'same-origin' })
			.then(function (r) {
				if (!r.ok)
					throw new Error('steps: HTTP ' + r.status);
				return r.text();
			})
			.then(function (html) {
				var doc = new DOMParser().parseFromString(html,
				    'text/html');
				var fresh = doc.getElementById('steps');
				var cur = document.getElementById('steps');
				if (fresh && cur)
					cur.replaceWith(document.importNode(fresh,
					    true));
			})
			.catch(function () {
				var s = document.getElementById('live');
				if (s)
					s.textContent = 'not updating (reload)';
			})
			.finally(function () {
				busy = false;
				if (again) {
					again = false;
					refresh();
				}
			});
	}

	var es = new EventSource(base + '/events');
	es.addEventListener('step', refresh);
	es.addEventListener('end', function () {
		es.close();
		refresh();
	});
})();
