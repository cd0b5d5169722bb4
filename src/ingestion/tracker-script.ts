/**
 * The browser tracker served at `GET /tracker.js` (docs/tracker.md is the user's guide: the
 * snippet, every `data-*` option and the JS API). In short:
 *
 *   <script defer src="https://siteline.example.com/tracker.js" data-site-id="example.com"></script>
 *
 * - Posts JSON hits to `/api/v1/hits` of the server it was loaded from (`data-api` overrides the
 *   endpoint) with `navigator.sendBeacon`, falling back to `fetch(..., { keepalive: true })`.
 *   The body is JSON sent as `text/plain`, a CORS "simple" request: no preflight, and sendBeacon
 *   accepts it. Both survive the page going away, so a click on a link that leaves the page is
 *   recorded without holding the navigation back (Plausible's old scripts delayed it instead).
 * - Page views: the landing, then SPA navigations (history.pushState and popstate), once per
 *   distinct URL. The fragment is not part of it unless `data-hash-mode` is set (hash-based
 *   routers): then the URL keeps its `#…`, `hashchange` is a navigation and every hit says
 *   `hashMode: true`. `history.replaceState` rewrites the current page view's URL without
 *   counting one (routers use it for redirects and for query or state updates; Plausible does not
 *   count it either). `data-manual` turns automatic page views off: `siteline('pageview')` sends.
 * - `window.siteline(name, { props, revenue, url, callback })` sends a custom event; calls made
 *   before the script ran wait in `siteline.q` (the snippet in docs/tracker.md) and are sent after
 *   the first page view, so they belong to the visit it starts.
 * - Opt-in automatic events, with Plausible's names so its users find their goals again:
 *   `data-outbound-links` ("Outbound Link: Click", props.url), `data-file-downloads` ("File
 *   Download", props.url without the query; `data-file-types` replaces the extension list,
 *   `data-add-file-types` extends it), `data-404` ("404", props.path).
 * - Tagged elements, always on (tagging is the opt-in): a click on an element (or its child,
 *   up to three levels) with the class `siteline-event-name=Signup` or the attribute
 *   `data-siteline-event="Signup"` sends that event; `siteline-event-plan=pro` /
 *   `data-siteline-prop-plan="pro"` add props, `siteline-revenue-amount=29` /
 *   `siteline-revenue-currency=EUR` (or `data-siteline-revenue-*`) revenue. On a form it is the
 *   submission that counts, not clicks inside it. `+` in a class value stands for a space.
 * - Engagement (on unless `data-no-engagement`): the time the page was visible and in focus and
 *   the deepest point scrolled to (percent of the page height), sent as an `engagement` hit when
 *   the page is hidden or left and, for the previous page, on SPA navigation. Like Plausible, a
 *   hit is sent only with something new: a deeper scroll, or at least 3 s more engaged time, and
 *   `engagementMs` is the time since the previous engagement hit of the same page view, so the
 *   server adds them up.
 * - Sets no cookie and stores nothing in the browser.
 * - Do-Not-Track: the server drops hits sent with `DNT: 1` for sites with `respectDoNotTrack`;
 *   `data-respect-dnt` makes the script itself stay silent too (saves the request).
 * - The referrer goes only with the first page view of a page load: later SPA views are
 *   navigation inside the site.
 *
 * The source below must not contain `//` comments or regular-expression literals: `minify`
 * joins its lines and squeezes the spaces around punctuation outside string literals.
 */
const SOURCE = `(function () {
  var d = document, w = window, n = navigator, l = location, s = d.currentScript, q = w.siteline && w.siteline.q || [];
  if (!s) return;
  function has(a) { return s.hasAttribute('data-' + a); }
  function attr(a) { return s.getAttribute('data-' + a); }
  if (has('respect-dnt') && (n.doNotTrack === '1' || w.doNotTrack === '1')) { w.siteline = function () {}; return; }
  var site = attr('site-id');
  var api = attr('api') || new URL(s.src).origin + '/api/v1/hits';
  var hash = has('hash-mode'), engage = !has('no-engagement');
  var types = 'pdf,xlsx,docx,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,wmv,midi,mp3,wav,wma,dmg';
  types = (attr('file-types') || types + ',' + (attr('add-file-types') || '')).split(',');
  var ref = d.referrer, last, page, sent, ms, since, px, height;
  function here() { return hash ? l.href : l.href.split('#')[0]; }
  function post(hit, done) {
    hit.siteId = site;
    if (hash) hit.hashMode = true;
    var body = JSON.stringify(hit);
    done = done || function () {};
    if (n.sendBeacon && n.sendBeacon(api, new Blob([body], { type: 'text/plain' }))) return done();
    if (w.fetch) w.fetch(api, { method: 'POST', body: body, keepalive: true, credentials: 'omit', headers: { 'Content-Type': 'text/plain' } }).then(done, done);
  }
  function track(name, o) {
    o = o || {};
    if (name === 'pageview') return view(o.url || here(), o);
    var hit = { name: name, url: o.url || here() };
    if (o.props) hit.props = o.props;
    if (o.revenue) hit.revenue = o.revenue;
    post(hit, o.callback);
  }
  function focused() { return d.visibilityState === 'visible' && d.hasFocus(); }
  function spent() { return ms + (since ? Date.now() - since : 0); }
  function docHeight() {
    var b = d.body || {}, e = d.documentElement || {};
    return Math.max(b.scrollHeight || 0, b.offsetHeight || 0, e.scrollHeight || 0, e.offsetHeight || 0, e.clientHeight || 0);
  }
  function seen() {
    height = docHeight();
    var e = d.documentElement, v = w.innerHeight || e.clientHeight;
    return height <= v ? height : (w.scrollY || e.scrollTop) + v;
  }
  function engaged() {
    if (!page || !engage) return;
    var t = spent(), v = seen();
    if (v > px) px = v;
    if (px <= sent && t < 3000) return;
    sent = px;
    ms = 0;
    since = focused() ? Date.now() : 0;
    post({ name: 'engagement', url: page, engagementMs: Math.round(t), scrollDepth: Math.min(100, Math.round(px * 100 / height)) });
  }
  function clock() {
    if (focused()) { since = since || Date.now(); return; }
    ms = spent();
    since = 0;
    if (d.visibilityState === 'hidden') engaged();
  }
  function view(url, o) {
    engaged();
    last = page = url;
    var hit = { url: url };
    if (ref) hit.referrer = ref;
    ref = '';
    if (o.props) hit.props = o.props;
    post(hit, o.callback);
    sent = -1;
    ms = 0;
    since = focused() ? Date.now() : 0;
    px = seen();
  }
  function auto() { if (!has('manual') && here() !== last) view(here(), {}); }
  function tagged(e) {
    var name = e.getAttribute('data-siteline-event'), props = {}, revenue = {}, i, m, a = e.attributes, c = e.classList;
    for (i = 0; i < a.length; i++) {
      m = a[i].name.match('^data-siteline-(prop|revenue)-(.+)');
      if (m) (m[1] === 'prop' ? props : revenue)[m[2]] = a[i].value;
    }
    for (i = 0; i < c.length; i++) {
      m = c[i].match('^siteline-(event|revenue)-(.+?)(=|--)(.+)');
      if (!m) continue;
      var v = m[4].split('+').join(' ');
      if (m[1] === 'revenue') revenue[m[2]] = v;
      else if (m[2] === 'name') name = v;
      else props[m[2]] = v;
    }
    if (!name) return;
    var o = { props: props };
    if (revenue.currency) o.revenue = { currency: revenue.currency, amount: Number(revenue.amount) };
    return [name, o];
  }
  function click(e) {
    if (e.type === 'auxclick' && e.button !== 1) return;
    var t = e.target, link = t.closest && t.closest('a[href]'), found, i;
    for (i = 0; t && t.tagName && i < 4; i++, t = t.parentNode) {
      if (t.tagName === 'FORM') { found = 0; break; }
      found = found || tagged(t);
    }
    if (found) {
      if (link) found[1].props.url = link.href;
      return track(found[0], found[1]);
    }
    if (!link) return;
    var url = link.href.split('?')[0].split('#')[0], file = link.pathname.split('/').pop().split('.');
    if (has('outbound-links') && link.host && link.host !== l.host) track('Outbound Link: Click', { props: { url: link.href } });
    else if (has('file-downloads') && file.length > 1 && types.indexOf(file.pop().toLowerCase()) >= 0) track('File Download', { props: { url: url } });
  }
  var h = history, push = h.pushState, replace = h.replaceState;
  h.pushState = function () { push.apply(this, arguments); auto(); };
  h.replaceState = function () { replace.apply(this, arguments); last = here(); };
  w.addEventListener('popstate', auto);
  if (hash) w.addEventListener('hashchange', auto);
  d.addEventListener('click', click);
  d.addEventListener('auxclick', click);
  d.addEventListener('submit', function (e) { var found = tagged(e.target); if (found) track(found[0], found[1]); });
  d.addEventListener('scroll', function () { var v = seen(); if (v > px) px = v; }, { passive: true });
  d.addEventListener('visibilitychange', clock);
  w.addEventListener('focus', clock);
  w.addEventListener('blur', clock);
  w.addEventListener('pagehide', engaged);
  auto();
  if (has('404')) track('404', { props: { path: l.pathname } });
  w.siteline = track;
  for (var i = 0; i < q.length; i++) track.apply(null, q[i]);
})();
`;

/**
 * Whitespace squeezed out of the source: lines joined, and spaces around punctuation dropped
 * everywhere except inside string literals (event names such as "Outbound Link: Click" keep
 * theirs). The identifiers are short already.
 */
function minify(source: string): string {
  return source
    .split('\n')
    .map((line) => line.trim())
    .join('')
    .split(/('(?:[^'\\]|\\.)*')/)
    .map((part, index) => (index % 2 === 1 ? part : part.replace(/\s*([{}()[\];,=:|&+<>?!*/-])\s*/g, '$1')))
    .join('');
}

export const TRACKER_SCRIPT = minify(SOURCE);
