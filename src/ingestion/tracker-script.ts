/**
 * The browser tracker served at `GET /tracker.js`. Usage:
 *
 *   <script defer src="https://siteline.example.com/tracker.js" data-site-id="example.com"></script>
 *
 * - Posts `{ siteId, url, referrer }` to `/api/v1/hits` of the server it was loaded from
 *   (`data-api` overrides the endpoint) with `navigator.sendBeacon`, falling back to
 *   `fetch(..., { keepalive: true })`. The body is JSON sent as `text/plain`, a CORS "simple"
 *   request: no preflight, and sendBeacon accepts it.
 * - Counts SPA navigations (history.pushState and popstate: the back and forward buttons), once
 *   per distinct URL. The fragment is not part of it: an in-page anchor (`#section`), or back from
 *   one, is no page view, as the server drops fragments anyway. `history.replaceState` rewrites the
 *   current page view's URL without counting one (routers use it for redirects and for query or
 *   state updates; Plausible does not count it either).
 * - Sets no cookie and stores nothing in the browser.
 * - Do-Not-Track: the server drops hits sent with `DNT: 1` for sites with `respectDoNotTrack`;
 *   `data-respect-dnt` makes the script itself stay silent too (saves the request).
 * - The referrer goes only with the first page view of a page load: later SPA views are
 *   navigation inside the site.
 */
const SOURCE = `(function () {
  var d = document, w = window, n = navigator, s = d.currentScript;
  if (!s) return;
  if (s.hasAttribute('data-respect-dnt') && (n.doNotTrack === '1' || w.doNotTrack === '1')) return;
  var site = s.getAttribute('data-site-id');
  var api = s.getAttribute('data-api') || new URL(s.src).origin + '/api/v1/hits';
  var last, ref = d.referrer;
  function here() { return location.href.split('#')[0]; }
  function send() {
    var url = here();
    if (url === last) return;
    last = url;
    var hit = { siteId: site, url: url };
    if (ref) hit.referrer = ref;
    ref = '';
    var body = JSON.stringify(hit);
    if (n.sendBeacon && n.sendBeacon(api, new Blob([body], { type: 'text/plain' }))) return;
    if (w.fetch) w.fetch(api, { method: 'POST', body: body, keepalive: true, credentials: 'omit', headers: { 'Content-Type': 'text/plain' } }).catch(function () {});
  }
  var h = history, push = h.pushState, replace = h.replaceState;
  h.pushState = function () { push.apply(this, arguments); send(); };
  h.replaceState = function () { replace.apply(this, arguments); last = here(); };
  w.addEventListener('popstate', send);
  send();
})();
`;

/** Whitespace and indentation removed; identifiers are already short. */
export const TRACKER_SCRIPT = SOURCE.split('\n')
  .map((line) => line.trim())
  .join('')
  .replace(/\s*([{}();,=:|&+])\s*/g, '$1');
