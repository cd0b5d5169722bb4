/* global document */
// DOM rendering. Values always go in through textContent, never as HTML.
import { formatChange, formatDecimal, formatDuration, formatInteger, formatPercent } from './format.js';

export const OVERVIEW_CARDS = [
  { metric: 'visitors', label: 'Visitors', format: formatInteger },
  { metric: 'visits', label: 'Visits', format: formatInteger },
  { metric: 'pageviews', label: 'Pageviews', format: formatInteger },
  { metric: 'viewsPerVisit', label: 'Views per visit', format: formatDecimal },
  { metric: 'bounceRate', label: 'Bounce rate', format: formatPercent, lowerIsBetter: true },
  { metric: 'visitDuration', label: 'Visit duration', format: formatDuration },
  { metric: 'botShare', label: 'Bot share', format: formatPercent, lowerIsBetter: true },
];

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function createOverview(container) {
  container.replaceChildren(
    ...OVERVIEW_CARDS.map((card) => {
      const wrapper = element('div', { class: 'metric', 'data-metric': card.metric });
      wrapper.append(
        element('dt', { class: 'metric-label' }, card.label),
        element('dd', { class: 'metric-value' }, '–'),
        element('dd', { class: 'metric-change' }),
      );
      return wrapper;
    }),
  );
}

export function renderOverview(container, overview) {
  for (const card of OVERVIEW_CARDS) {
    const wrapper = container.querySelector(`[data-metric="${card.metric}"]`);
    const entry = overview[card.metric];
    wrapper.querySelector('.metric-value').textContent = card.format(entry.value);
    const change = wrapper.querySelector('.metric-change');
    const direction =
      !Number.isFinite(entry.change) || Math.round(entry.change) === 0 ? 'flat' : entry.change > 0 ? 'up' : 'down';
    const better =
      direction === 'flat' ? 'neutral' : (direction === 'up') !== Boolean(card.lowerIsBetter) ? 'good' : 'bad';
    change.className = `metric-change ${direction} ${better}`;
    change.replaceChildren(
      element('span', {}, formatChange(entry.change)),
      element('span', { class: 'visually-hidden' }, ' compared with the previous period'),
    );
  }
}

export function clearOverview(container) {
  for (const value of container.querySelectorAll('.metric-value')) value.textContent = '–';
  for (const change of container.querySelectorAll('.metric-change')) change.replaceChildren();
}

export function createBreakdowns(container, definitions) {
  container.replaceChildren(
    ...definitions.map((definition) => {
      const section = element('section', {
        class: 'panel breakdown',
        'data-breakdown': definition.id,
        'aria-labelledby': `${definition.id}-title`,
      });
      const table = element('table', { 'aria-labelledby': `${definition.id}-title` });
      const headRow = element('tr');
      headRow.append(
        element('th', { scope: 'col' }, definition.column),
        element('th', { scope: 'col', class: 'numeric' }, 'Visitors'),
        element('th', { scope: 'col', class: 'numeric' }, 'Pageviews'),
      );
      table.append(element('thead'), element('tbody'));
      table.tHead.append(headRow);
      section.append(element('h2', { id: `${definition.id}-title` }, definition.title), table);
      return section;
    }),
  );
}

/** Rows of `{ name, visitors, pageviews }`; a bar behind each name shows its share of the top row. */
export function renderBreakdown(container, definition, rows) {
  const body = container.querySelector(`[data-breakdown="${definition.id}"] tbody`);
  if (rows.length === 0) {
    const row = element('tr', { class: 'empty' });
    row.append(element('td', { colspan: '3' }, 'No data for this range'));
    body.replaceChildren(row);
    return;
  }
  const top = Math.max(...rows.map((row) => row.visitors), 1);
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = element('tr');
      tr.style.setProperty('--share', `${Math.round((row.visitors / top) * 100)}%`);
      tr.append(
        element('th', { scope: 'row', class: 'label' }, row.name),
        element('td', { class: 'numeric' }, formatInteger(row.visitors)),
        element('td', { class: 'numeric' }, formatInteger(row.pageviews)),
      );
      return tr;
    }),
  );
}

export function renderBreakdownError(container, definition, message) {
  const body = container.querySelector(`[data-breakdown="${definition.id}"] tbody`);
  const row = element('tr', { class: 'empty' });
  row.append(element('td', { colspan: '3' }, message));
  body.replaceChildren(row);
}
