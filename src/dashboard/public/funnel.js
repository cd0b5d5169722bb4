/* global document */
// The funnel panel: one bar per step, its visitors, and conversion and drop-off from the step before.
import { formatInteger, formatPercent } from './format.js';

/** Fills `list` (an <ol>) with the steps of a funnel answer (GET /stats/funnel). */
export function renderFunnel(list, summary, funnel) {
  const widest = Math.max(1, ...funnel.steps.map((step) => step.visitors));
  list.replaceChildren(
    ...funnel.steps.map((step) => {
      const item = document.createElement('li');
      item.className = 'funnel-step';
      item.dataset.step = String(step.step);

      const label = document.createElement('span');
      label.className = 'funnel-label';
      label.textContent = step.label;

      const bar = document.createElement('span');
      bar.className = 'funnel-bar';
      bar.setAttribute('aria-hidden', 'true');
      bar.style.width = `${(step.visitors / widest) * 100}%`;

      const visitors = document.createElement('span');
      visitors.className = 'funnel-visitors';
      visitors.textContent = `${formatInteger(step.visitors)} ${step.visitors === 1 ? 'visitor' : 'visitors'}`;

      const rates = document.createElement('span');
      rates.className = 'funnel-rates';
      rates.textContent =
        step.step === 1
          ? `${formatPercent(funnel.enteringVisitorsPercentage)} of all visitors entered`
          : `${formatPercent(step.conversionRateStep)} from the previous step · ` +
            `${formatInteger(step.dropoff)} dropped off · ${formatPercent(step.conversionRate)} overall`;

      item.append(label, bar, visitors, rates);
      return item;
    }),
  );
  const last = funnel.steps[funnel.steps.length - 1];
  summary.textContent =
    `${formatInteger(funnel.enteringVisitors)} of ${formatInteger(funnel.visitors)} visitors entered; ` +
    `${formatPercent(last.conversionRate)} of them completed every step in one visit.`;
}

export function renderFunnelMessage(list, summary, message) {
  list.replaceChildren();
  summary.textContent = message;
}
