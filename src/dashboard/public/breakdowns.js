// The tables under the chart: one breakdown dimension of the stats API each.
export const BREAKDOWN_LIMIT = 10;

export const BREAKDOWNS = [
  { id: 'pages', title: 'Top pages', dimension: 'page', column: 'Page' },
  { id: 'sources', title: 'Sources', dimension: 'source', column: 'Source' },
  { id: 'referrers', title: 'Referrers', dimension: 'referrer', column: 'Referrer' },
  { id: 'countries', title: 'Countries', dimension: 'country', column: 'Country' },
  { id: 'cities', title: 'Cities', dimension: 'city', column: 'City' },
  { id: 'browsers', title: 'Browsers', dimension: 'browser', column: 'Browser' },
  { id: 'os', title: 'Operating systems', dimension: 'os', column: 'Operating system' },
  { id: 'devices', title: 'Devices', dimension: 'device', column: 'Device' },
  { id: 'network-domains', title: 'Network domains', dimension: 'network_domain', column: 'Network domain' },
  // Bot reasons only exist on bot traffic; with "Humans" selected the table would always be
  // empty, so it always shows the bots of the chosen range and says so in its title.
  {
    id: 'bot-reasons',
    title: 'Bot reasons (bot traffic)',
    dimension: 'bot_reason',
    column: 'Reason',
    classification: 'BOT',
  },
];
