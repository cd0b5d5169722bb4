/* global document, window, localStorage */
// Wires the page: login, the controls, and loading every panel for the chosen query.
import * as api from './api.js';
import { BREAKDOWN_LIMIT, BREAKDOWNS, PROPERTY_PREFIX } from './breakdowns.js';
import { formatInteger } from './format.js';
import { renderFunnel, renderFunnelMessage } from './funnel.js';
import { chartInterval, customRangeProblem, rangeParams, shiftDays, todayIn } from './range.js';
import {
  clearOverview,
  createBreakdowns,
  createOverview,
  renderBreakdown,
  renderBreakdownMessage,
  renderOverview,
} from './render.js';
import { VisitorsChart } from './visitors-chart.js';

const REALTIME_REFRESH_MS = 30_000;
/** The last site looked at is remembered across sessions; it is not a secret. */
const LAST_SITE_KEY = 'siteline.lastSiteId';

const byId = (id) => document.getElementById(id);
const ui = {
  boot: byId('boot-message'),
  account: byId('account'),
  accountEmail: byId('account-email'),
  logout: byId('logout'),
  addSiteButton: byId('add-site'),
  setupView: byId('setup-view'),
  setupForm: byId('setup-form'),
  setupCode: byId('setup-code'),
  setupEmail: byId('setup-email'),
  setupPassword: byId('setup-password'),
  setupSubmit: byId('setup-submit'),
  setupError: byId('setup-error'),
  addSiteView: byId('add-site-view'),
  addSiteForm: byId('add-site-form'),
  siteDomain: byId('site-domain'),
  siteName: byId('site-name'),
  siteTimezone: byId('site-timezone'),
  addSiteSubmit: byId('add-site-submit'),
  addSiteCancel: byId('add-site-cancel'),
  addSiteError: byId('add-site-error'),
  siteCreated: byId('site-created'),
  siteCreatedName: byId('site-created-name'),
  trackerSnippet: byId('tracker-snippet'),
  openStatistics: byId('open-statistics'),
  loginView: byId('login-view'),
  loginForm: byId('login-form'),
  loginEmail: byId('login-email'),
  loginPassword: byId('login-password'),
  loginSubmit: byId('login-submit'),
  loginError: byId('login-error'),
  dashboard: byId('dashboard-view'),
  controls: byId('controls'),
  site: byId('site-select'),
  range: byId('range-select'),
  customRange: byId('custom-range'),
  from: byId('range-from'),
  to: byId('range-to'),
  toggles: [...document.querySelectorAll('[data-classification]')],
  realtimeCount: byId('realtime-count'),
  realtimeLabel: byId('realtime-label'),
  status: byId('status'),
  error: byId('error'),
  overview: byId('overview'),
  breakdowns: byId('breakdowns'),
  chart: byId('visitors-chart'),
  segmentField: byId('segment-field'),
  segment: byId('segment-select'),
  funnelPanel: byId('funnel-panel'),
  funnel: byId('funnel-select'),
  funnelSteps: byId('funnel-steps'),
  funnelSummary: byId('funnel-summary'),
};

const RANGE_NAMES = { day: 'Today', '7d': 'Last 7 days', '30d': 'Last 30 days', month: 'This month' };

const state = {
  sites: [],
  siteId: null,
  range: { kind: '7d' },
  classification: 'USER',
  /** The dimension picked in each table with choices (UTM parameters), by table id. */
  choices: Object.fromEntries(
    BREAKDOWNS.filter((table) => table.choices).map((table) => [table.id, table.choices[0].dimension]),
  ),
  /** The custom-event property whose values the properties table shows; none until one is named. */
  property: '',
  role: null,
  /** The saved segment applied to every panel ('' for none), and the funnel shown; both per site. */
  segment: '',
  funnelId: '',
};
/** Bumped on every reload, so answers to an older query never overwrite a newer one. */
let generation = 0;
/** Bumped per table on each of its loads: a table reloaded alone must not show an older answer. */
const tableLoads = new Map();
let realtimeTimer = null;
let chart = null;

function currentSite() {
  return state.sites.find((site) => site.id === state.siteId) ?? null;
}

function show(view) {
  ui.boot.hidden = true;
  ui.setupView.hidden = view !== 'setup';
  ui.loginView.hidden = view !== 'login';
  ui.addSiteView.hidden = view !== 'add-site';
  ui.dashboard.hidden = view !== 'dashboard';
  ui.account.hidden = view !== 'dashboard' && view !== 'add-site';
  ui.addSiteButton.hidden = view !== 'dashboard' || state.role !== 'admin';
}

/** First run: no account exists yet, so the first admin is created with the setup code from the server's log. */
function showSetup() {
  show('setup');
  ui.setupError.textContent = '';
  ui.setupCode.focus();
}

/** The site form; once a site is added, the tracker tag to paste into its pages. */
function showAddSite() {
  generation += 1;
  stopRealtime();
  show('add-site');
  ui.addSiteForm.hidden = false;
  ui.siteCreated.hidden = true;
  ui.addSiteError.textContent = '';
  ui.addSiteCancel.hidden = state.sites.length === 0;
  ui.siteTimezone.value ||= Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  ui.siteDomain.focus();
}

function showTrackerSnippet(site) {
  ui.addSiteForm.hidden = true;
  ui.siteCreated.hidden = false;
  ui.siteCreatedName.textContent = site.name;
  const src = new URL('/tracker.js', window.location.origin).href;
  ui.trackerSnippet.textContent = `<script defer src="${src}" data-site-id="${site.id}"></script>`;
  ui.openStatistics.focus();
}

function showLogin(message = '') {
  generation += 1;
  stopRealtime();
  chart?.destroy();
  chart = null;
  show('login');
  ui.loginError.textContent = message;
  ui.loginPassword.value = '';
  ui.loginEmail.focus();
}

async function enterDashboard() {
  const [me, sites] = await Promise.all([api.fetchMe(), api.listSites()]);
  ui.accountEmail.textContent = me.email;
  state.role = me.role;
  state.sites = sites;
  ui.site.replaceChildren(
    ...sites.map((site) => {
      const option = document.createElement('option');
      option.value = site.id;
      option.textContent = site.name === site.domain || !site.domain ? site.name : `${site.name} (${site.domain})`;
      return option;
    }),
  );
  if (sites.length === 0 && me.role === 'admin') {
    showAddSite();
    return;
  }
  show('dashboard');
  if (sites.length === 0) {
    ui.error.textContent = 'No sites yet: ask an admin to add one or to give you access to one.';
    return;
  }
  const remembered = localStorage.getItem(LAST_SITE_KEY);
  state.siteId = sites.some((site) => site.id === remembered) ? remembered : sites[0].id;
  ui.site.value = state.siteId;
  chart ??= new VisitorsChart(ui.chart);
  ui.site.focus();
  startRealtime();
  await loadSiteLists();
  await reload();
}

/**
 * The picked site's saved segments and funnels, for the segment select and the funnel panel;
 * each is hidden while the site has none. A list that cannot be loaded hides its control.
 */
async function loadSiteLists() {
  const siteId = state.siteId;
  const [segments, funnels] = await Promise.all([
    api.listSegments(siteId).catch(() => []),
    api.listFunnels(siteId).catch(() => []),
  ]);
  if (siteId !== state.siteId) return;
  const option = (value, text) => Object.assign(document.createElement('option'), { value, textContent: text });
  ui.segment.replaceChildren(
    option('', 'All visitors'),
    ...segments.map((segment) => option(segment.id, segment.name)),
  );
  ui.segmentField.hidden = segments.length === 0;
  state.segment = '';
  ui.funnel.replaceChildren(...funnels.map((funnel) => option(funnel.id, funnel.name)));
  ui.funnelPanel.hidden = funnels.length === 0;
  state.funnelId = funnels[0]?.id ?? '';
}

/** Marks the view stale at once, so no one reads the previous site's or range's figures as current. */
function showLoading() {
  ui.dashboard.setAttribute('aria-busy', 'true');
  ui.status.textContent = 'Loading…';
  ui.error.textContent = '';
}

async function reload() {
  const site = currentSite();
  if (!site) return;
  const ticket = ++generation;
  const isCurrent = () => ticket === generation;
  const query = currentQuery();
  const interval = chartInterval(state.range);
  showLoading();

  const outcomes = await Promise.allSettled([
    api.fetchOverview(query).then(
      (overview) => isCurrent() && renderOverview(ui.overview, overview),
      (error) => {
        if (isCurrent()) clearOverview(ui.overview);
        throw error;
      },
    ),
    api.fetchTimeseries(query, interval).then((points) => isCurrent() && chart?.render(points, interval)),
    loadFunnel(query, isCurrent),
    ...BREAKDOWNS.map((definition) => loadBreakdown(definition, query, isCurrent)),
  ]);
  if (!isCurrent()) return;
  ui.dashboard.setAttribute('aria-busy', 'false');
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  ui.error.textContent = failure ? `Some statistics could not be loaded: ${failure.reason.message}` : '';
  ui.status.textContent = `${describeRange()} · days in ${site.timezone}`;
}

/** The query the dashboard shows, without the parts each table sets itself. */
function currentQuery() {
  const site = currentSite();
  return (
    site && {
      siteId: site.id,
      ...rangeParams(state.range),
      classification: state.classification,
      ...(state.segment ? { segment: state.segment } : {}),
    }
  );
}

/** Fills the funnel panel for the query; a rejection (after saying so in the panel) tells the caller it failed. */
async function loadFunnel(query, isCurrent) {
  if (!state.funnelId) return;
  try {
    const funnel = await api.fetchFunnel(query, state.funnelId);
    if (isCurrent()) renderFunnel(ui.funnelSteps, ui.funnelSummary, funnel);
  } catch (error) {
    if (isCurrent()) renderFunnelMessage(ui.funnelSteps, ui.funnelSummary, 'Could not be loaded');
    throw error;
  }
}

function breakdownDimension(definition) {
  if (definition.goals) return 'goal';
  if (definition.choices) return state.choices[definition.id];
  if (definition.property) return state.property && PROPERTY_PREFIX + state.property;
  return definition.dimension;
}

/** Fills one table; a rejection (after showing it in the table) tells the caller it failed. */
async function loadBreakdown(definition, query, isCurrentPage) {
  const load = (tableLoads.get(definition.id) ?? 0) + 1;
  tableLoads.set(definition.id, load);
  const isCurrent = () => isCurrentPage() && tableLoads.get(definition.id) === load;
  const dimension = breakdownDimension(definition);
  if (!dimension) {
    renderBreakdownMessage(ui.breakdowns, definition, 'Name a property to see its values');
    return;
  }
  try {
    const metrics = definition.columns.map((column) => column.metric);
    const rows = definition.goals
      ? await api.fetchGoalConversions(query, { limit: BREAKDOWN_LIMIT, metrics })
      : await api.fetchBreakdown(
          { ...query, classification: definition.classification ?? query.classification },
          {
            dimension,
            // One more than shown: the row without a value may be among them.
            limit: definition.valuesOnly ? BREAKDOWN_LIMIT + 1 : BREAKDOWN_LIMIT,
            metrics,
            filters: definition.filters,
          },
        );
    const shown = definition.valuesOnly ? rows.filter((row) => row.value !== null).slice(0, BREAKDOWN_LIMIT) : rows;
    if (isCurrent()) renderBreakdown(ui.breakdowns, definition, shown);
  } catch (error) {
    if (isCurrent()) renderBreakdownMessage(ui.breakdowns, definition, 'Could not be loaded');
    throw error;
  }
}

/** Reloads one table after its select or property field changed, the rest of the page staying. */
function reloadBreakdown(definition) {
  const query = currentQuery();
  if (!query) return;
  const ticket = generation;
  ui.error.textContent = '';
  loadBreakdown(definition, query, () => ticket === generation).catch((error) => {
    if (ticket === generation) ui.error.textContent = `Some statistics could not be loaded: ${error.message}`;
  });
}

function describeRange() {
  const { range } = state;
  return range.kind === 'custom' ? `${range.from} to ${range.to}` : RANGE_NAMES[range.kind];
}

function startRealtime() {
  stopRealtime();
  void updateRealtime();
  realtimeTimer = window.setInterval(() => {
    if (!document.hidden) void updateRealtime();
  }, REALTIME_REFRESH_MS);
}

function stopRealtime() {
  if (realtimeTimer !== null) window.clearInterval(realtimeTimer);
  realtimeTimer = null;
}

async function updateRealtime() {
  const siteId = state.siteId;
  if (!siteId) return;
  try {
    const visitors = await api.fetchRealtime(siteId);
    if (siteId !== state.siteId) return;
    ui.realtimeCount.textContent = formatInteger(visitors);
    ui.realtimeLabel.textContent = visitors === 1 ? 'visitor in the last 5 minutes' : 'visitors in the last 5 minutes';
  } catch {
    ui.realtimeCount.textContent = '–';
  }
}

/** Runs an event handler's async work, reporting failures on the page instead of the console. */
function guarded(work) {
  work().catch((error) => {
    if (error instanceof api.ApiError && error.status === 401) return;
    ui.dashboard.setAttribute('aria-busy', 'false');
    ui.error.textContent = error instanceof Error ? error.message : String(error);
  });
}

function wireEvents() {
  ui.loginForm.addEventListener('submit', (event) => {
    event.preventDefault();
    ui.loginSubmit.disabled = true;
    ui.loginError.textContent = '';
    api
      .login(ui.loginEmail.value.trim(), ui.loginPassword.value)
      .then(() => enterDashboard())
      .catch((error) => {
        ui.loginError.textContent =
          error instanceof api.ApiError && error.status === 401 ? 'Wrong email or password.' : error.message;
      })
      .finally(() => {
        ui.loginSubmit.disabled = false;
      });
  });

  ui.setupForm.addEventListener('submit', (event) => {
    event.preventDefault();
    ui.setupSubmit.disabled = true;
    ui.setupError.textContent = '';
    api
      .setUp(ui.setupCode.value.trim(), ui.setupEmail.value.trim(), ui.setupPassword.value)
      .then(() => enterDashboard())
      .catch((error) => {
        if (error instanceof api.ApiError && error.status === 409) {
          showLogin('Siteline already has an account: log in.');
          return;
        }
        ui.setupError.textContent = error.message;
      })
      .finally(() => {
        ui.setupSubmit.disabled = false;
      });
  });

  ui.addSiteButton.addEventListener('click', () => showAddSite());
  ui.addSiteCancel.addEventListener('click', () => guarded(enterDashboard));
  ui.openStatistics.addEventListener('click', () => guarded(enterDashboard));

  ui.addSiteForm.addEventListener('submit', (event) => {
    event.preventDefault();
    ui.addSiteSubmit.disabled = true;
    ui.addSiteError.textContent = '';
    api
      .createSite(ui.siteDomain.value.trim(), ui.siteName.value.trim(), ui.siteTimezone.value.trim())
      .then((site) => {
        state.sites = [...state.sites, site];
        localStorage.setItem(LAST_SITE_KEY, site.id);
        ui.addSiteForm.reset();
        showTrackerSnippet(site);
      })
      .catch((error) => {
        ui.addSiteError.textContent = error.message;
      })
      .finally(() => {
        ui.addSiteSubmit.disabled = false;
      });
  });

  ui.logout.addEventListener('click', () => {
    api
      .logout()
      .catch(() => undefined)
      .finally(() => showLogin('You are logged out.'));
  });

  ui.site.addEventListener('change', () => {
    state.siteId = ui.site.value;
    localStorage.setItem(LAST_SITE_KEY, state.siteId);
    showLoading();
    startRealtime();
    guarded(async () => {
      await loadSiteLists();
      await reload();
    });
  });

  ui.segment.addEventListener('change', () => {
    state.segment = ui.segment.value;
    guarded(reload);
  });

  ui.funnel.addEventListener('change', () => {
    state.funnelId = ui.funnel.value;
    const query = currentQuery();
    const ticket = generation;
    if (!query) return;
    ui.error.textContent = '';
    loadFunnel(query, () => ticket === generation).catch((error) => {
      if (ticket === generation) ui.error.textContent = `Some statistics could not be loaded: ${error.message}`;
    });
  });

  ui.range.addEventListener('change', () => {
    const kind = ui.range.value;
    ui.customRange.hidden = kind !== 'custom';
    if (kind === 'custom') {
      const today = todayIn(currentSite()?.timezone ?? 'UTC');
      ui.to.value ||= today;
      ui.from.value ||= shiftDays(ui.to.value, -6);
      // Focus stays on the select (arrow keys change it as they go); the date fields come next in tab order.
      return;
    }
    state.range = { kind };
    guarded(reload);
  });

  // The custom range applies on its button or on Enter in a date field.
  ui.controls.addEventListener('submit', (event) => {
    event.preventDefault();
    if (ui.range.value !== 'custom') return;
    const problem = customRangeProblem(ui.from.value, ui.to.value);
    if (problem) {
      ui.error.textContent = problem;
      return;
    }
    state.range = { kind: 'custom', from: ui.from.value, to: ui.to.value };
    guarded(reload);
  });

  for (const definition of BREAKDOWNS.filter((table) => table.choices)) {
    const select = ui.breakdowns.querySelector(`[data-choice="${definition.id}"]`);
    select.addEventListener('change', () => {
      state.choices[definition.id] = select.value;
      reloadBreakdown(definition);
    });
  }

  for (const definition of BREAKDOWNS.filter((table) => table.property)) {
    const form = ui.breakdowns.querySelector(`[data-property="${definition.id}"]`);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      state.property = form.elements.property.value.trim();
      reloadBreakdown(definition);
    });
  }

  for (const toggle of ui.toggles) {
    toggle.addEventListener('click', () => {
      state.classification = toggle.dataset.classification;
      for (const other of ui.toggles) other.setAttribute('aria-pressed', String(other === toggle));
      guarded(reload);
    });
  }
}

function start() {
  createOverview(ui.overview);
  createBreakdowns(ui.breakdowns, BREAKDOWNS);
  wireEvents();
  api.onSignedOut(() => showLogin('Your session has ended. Please log in again.'));
  if (!api.hasSession()) {
    api.isSetupNeeded().then(
      (needed) => (needed ? showSetup() : showLogin()),
      () => showLogin(),
    );
    return;
  }
  enterDashboard().catch((error) =>
    showLogin(error instanceof api.ApiError && error.status === 401 ? '' : error.message),
  );
}

start();
