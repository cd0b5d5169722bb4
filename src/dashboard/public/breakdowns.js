// The tables under the chart: one breakdown of the stats API each, with the metrics it shows.
import { formatDuration, formatInteger, formatPercent } from './format.js';

export const BREAKDOWN_LIMIT = 10;

/** The columns a table can show: a metric of GET /stats/breakdown each. */
const COLUMNS = {
  visitors: { metric: 'visitors', label: 'Visitors', format: formatInteger },
  visits: { metric: 'visits', label: 'Visits', format: formatInteger },
  pageviews: { metric: 'pageviews', label: 'Pageviews', format: formatInteger },
  events: { metric: 'events', label: 'Events', format: formatInteger },
  // The API gives the average time on page in seconds and the average deepest scroll in percent.
  timeOnPage: { metric: 'time_on_page', label: 'Time on page', format: formatDuration },
  scrollDepth: { metric: 'scroll_depth', label: 'Scroll depth', format: formatPercent },
  // Goal conversions (POST /stats/query with the goal dimension): unique and total conversions.
  uniques: { metric: 'visitors', label: 'Uniques', format: formatInteger },
  total: { metric: 'events', label: 'Total', format: formatInteger },
  conversionRate: { metric: 'conversionRate', label: 'CR', format: formatPercent },
};
const TRAFFIC = [COLUMNS.visitors, COLUMNS.pageviews];
/** Entrances and exits are counted per visit, as Plausible's entry and exit pages are. */
const VISITS = [COLUMNS.visitors, COLUMNS.visits];
const EVENTS = [COLUMNS.visitors, COLUMNS.events];

/** Engagement hits carry time and scroll depth only; they are neither page views nor custom events. */
const CUSTOM_EVENTS_ONLY = [['is_not', 'event_name', ['pageview', 'engagement']]];

/**
 * A table has a fixed `dimension`, or `choices` (a select in its heading picks the dimension), or
 * `property` (a text field in its heading names the custom-event property: dimension `prop:<key>`).
 * `valuesOnly` leaves out the row of hits without a value: traffic without UTM tags or events
 * without the property are not a UTM value or a property value (Plausible lists them neither).
 */
export const BREAKDOWNS = [
  { id: 'pages', title: 'Top pages', dimension: 'page', column: 'Page', columns: TRAFFIC },
  { id: 'entry-pages', title: 'Entry pages', dimension: 'entry_page', column: 'Entry page', columns: VISITS },
  { id: 'exit-pages', title: 'Exit pages', dimension: 'exit_page', column: 'Exit page', columns: VISITS },
  {
    id: 'engagement',
    title: 'Engagement',
    dimension: 'page',
    column: 'Page',
    columns: [COLUMNS.visitors, COLUMNS.timeOnPage, COLUMNS.scrollDepth],
  },
  { id: 'sources', title: 'Sources', dimension: 'source', column: 'Source', columns: TRAFFIC },
  { id: 'referrers', title: 'Referrers', dimension: 'referrer', column: 'Referrer', columns: TRAFFIC },
  {
    id: 'utm',
    title: 'UTM parameters',
    column: 'Value',
    columns: VISITS,
    valuesOnly: true,
    choiceLabel: 'UTM parameter',
    choices: [
      { dimension: 'utm_source', label: 'Source' },
      { dimension: 'utm_medium', label: 'Medium' },
      { dimension: 'utm_campaign', label: 'Campaign' },
      { dimension: 'utm_term', label: 'Term' },
      { dimension: 'utm_content', label: 'Content' },
    ],
  },
  {
    id: 'events',
    title: 'Custom events',
    dimension: 'event_name',
    column: 'Event',
    columns: EVENTS,
    filters: CUSTOM_EVENTS_ONLY,
  },
  // `goals`: one row per goal of the site with conversions in the range (docs/goals.md); the
  // conversion rate is over all visitors of the range.
  {
    id: 'goals',
    title: 'Goal conversions',
    goals: true,
    column: 'Goal',
    columns: [COLUMNS.uniques, COLUMNS.total, COLUMNS.conversionRate],
  },
  { id: 'properties', title: 'Event properties', property: true, column: 'Value', columns: EVENTS, valuesOnly: true },
  { id: 'countries', title: 'Countries', dimension: 'country', column: 'Country', columns: TRAFFIC },
  { id: 'cities', title: 'Cities', dimension: 'city', column: 'City', columns: TRAFFIC },
  { id: 'browsers', title: 'Browsers', dimension: 'browser', column: 'Browser', columns: TRAFFIC },
  { id: 'os', title: 'Operating systems', dimension: 'os', column: 'Operating system', columns: TRAFFIC },
  { id: 'devices', title: 'Devices', dimension: 'device', column: 'Device', columns: TRAFFIC },
  {
    id: 'network-domains',
    title: 'Network domains',
    dimension: 'network_domain',
    column: 'Network domain',
    columns: TRAFFIC,
  },
  // Bot reasons only exist on bot traffic; with "Humans" selected the table would always be
  // empty, so it always shows the bots of the chosen range and says so in its title.
  {
    id: 'bot-reasons',
    title: 'Bot reasons (bot traffic)',
    dimension: 'bot_reason',
    column: 'Reason',
    columns: TRAFFIC,
    classification: 'BOT',
  },
];

export const PROPERTY_PREFIX = 'prop:';
