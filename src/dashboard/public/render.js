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

/** The heading of a table, with the select or text field that picks what it breaks down by. */
function breakdownHeading(definition) {
  const heading = element('div', { class: 'panel-heading' });
  heading.append(element('h2', { id: `${definition.id}-title` }, definition.title));
  if (definition.choices) {
    const select = element('select', { 'aria-label': definition.choiceLabel, 'data-choice': definition.id });
    select.append(...definition.choices.map((choice) => element('option', { value: choice.dimension }, choice.label)));
    heading.append(select);
  } else if (definition.property) {
    const form = element('form', { class: 'property-form', 'data-property': definition.id, role: 'search' });
    const input = element('input', {
      type: 'text',
      name: 'property',
      'aria-label': 'Property name',
      placeholder: 'Property, e.g. plan',
      autocomplete: 'off',
      spellcheck: 'false',
      maxlength: '64',
    });
    form.append(input, element('button', { type: 'submit', class: 'button-secondary' }, 'Show'));
    heading.append(form);
  }
  return heading;
}

export function createBreakdowns(container, definitions) {
  container.replaceChildren(
    ...definitions.map((definition) => {
      const section = element('section', {
        class: definition.columns.length > 2 ? 'panel breakdown wide' : 'panel breakdown',
        'data-breakdown': definition.id,
        'aria-labelledby': `${definition.id}-title`,
      });
      const table = element('table', { 'aria-labelledby': `${definition.id}-title` });
      const headRow = element('tr');
      headRow.append(
        element('th', { scope: 'col' }, definition.column),
        ...definition.columns.map((column) => element('th', { scope: 'col', class: 'numeric' }, column.label)),
      );
      table.append(element('thead'), element('tbody'));
      table.tHead.append(headRow);
      section.append(breakdownHeading(definition), table);
      return section;
    }),
  );
}

/**
 * Rows of `{ name, values }` (values by metric); a bar behind each name shows its first
 * column's share of the top row's.
 */
export function renderBreakdown(container, definition, rows) {
  if (rows.length === 0) {
    renderBreakdownMessage(container, definition, 'No data for this range');
    return;
  }
  const body = container.querySelector(`[data-breakdown="${definition.id}"] tbody`);
  const first = definition.columns[0].metric;
  const top = Math.max(...rows.map((row) => row.values[first] ?? 0), 1);
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = element('tr');
      tr.style.setProperty('--share', `${Math.round(((row.values[first] ?? 0) / top) * 100)}%`);
      tr.append(
        element('th', { scope: 'row', class: 'label' }, row.name),
        ...definition.columns.map((column) =>
          element('td', { class: 'numeric' }, column.format(row.values[column.metric])),
        ),
      );
      return tr;
    }),
  );
}

/** One row across the table in place of data: "no data", an error, or what to do first. */
export function renderBreakdownMessage(container, definition, message) {
  const body = container.querySelector(`[data-breakdown="${definition.id}"] tbody`);
  const row = element('tr', { class: 'empty' });
  row.append(element('td', { colspan: String(definition.columns.length + 1) }, message));
  body.replaceChildren(row);
}
