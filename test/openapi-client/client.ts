import createClient from 'openapi-fetch';
import type { paths } from './generated/schema.js';

/**
 * What an internal tool does with a client generated from `openapi/openapi.json` and nothing
 * else: no hand-written types, no casts. `openapi-client.e2e-spec.ts` type-checks this file
 * against freshly generated types and runs it against the real app.
 */
export async function exerciseEveryStatsEndpoint(baseUrl: string, email: string, password: string) {
  const api = createClient<paths>({ baseUrl });

  const login = await api.POST('/api/v1/auth/login', { body: { email, password } });
  if (!login.data) throw new Error(`login failed: ${login.response.status}`);
  const auth = { Authorization: `Bearer ${login.data.accessToken}` };

  const site = await api.POST('/api/v1/sites', {
    headers: auth,
    body: { domain: 'client.example', name: 'Client example', timezone: 'Europe/Berlin' },
  });
  if (!site.data) throw new Error(`site creation failed: ${site.response.status}`);
  const siteId = site.data.id;

  const key = await api.POST('/api/v1/sites/{id}/keys', {
    headers: auth,
    params: { path: { id: siteId } },
    body: { scopes: ['ingest', 'read'] },
  });
  if (!key.data) throw new Error(`key creation failed: ${key.response.status}`);

  const ingest = await api.POST('/api/v1/hits', {
    headers: { 'X-Api-Key': key.data.key },
    body: {
      hits: [
        {
          url: 'https://client.example/',
          ip: '8.8.8.8',
          timestamp: '2024-03-01T10:00:00Z',
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
        },
        {
          url: 'https://client.example/about',
          ip: '8.8.8.8',
          timestamp: '2024-03-01T10:05:00Z',
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
        },
      ],
    },
  });

  const range = { start_date: '2024-03-01', end_date: '2024-03-02', siteId };
  const analytics = { siteId, from: '2024-03-01', to: '2024-03-02' };
  const query = { headers: auth };
  const data = {
    users: await api.GET('/api/v1/data/users', { ...query, params: { query: range } }),
    views: await api.GET('/api/v1/data/views', { ...query, params: { query: range } }),
    countries: await api.GET('/api/v1/data/countries', { ...query, params: { query: range } }),
    cities: await api.GET('/api/v1/data/cities', { ...query, params: { query: range } }),
    urls: await api.GET('/api/v1/data/urls', { ...query, params: { query: range } }),
    hostnames: await api.GET('/api/v1/data/hostnames', { ...query, params: { query: range } }),
  };
  const stats = {
    users: await api.GET('/api/v1/stats/users', { ...query, params: { query: { siteId } } }),
    overview: await api.GET('/api/v1/stats/overview', { ...query, params: { query: analytics } }),
    timeseries: await api.GET('/api/v1/stats/timeseries', {
      ...query,
      params: { query: { ...analytics, interval: 'day' } },
    }),
    breakdown: await api.GET('/api/v1/stats/breakdown', {
      ...query,
      params: { query: { ...analytics, dimension: 'page' } },
    }),
    query: await api.POST('/api/v1/stats/query', {
      headers: auth,
      body: {
        siteId,
        metrics: ['visitors', 'pageviews'],
        dateRange: { from: '2024-03-01', to: '2024-03-02' },
        dimensions: ['country'],
      },
    }),
    realtime: await api.GET('/api/v1/stats/realtime', { ...query, params: { query: { siteId } } }),
  };

  return {
    accepted: ingest.data?.accepted,
    usersTotal: data.users.data?.total,
    viewsTotal: data.views.data?.total,
    topCountry: data.countries.data?.[0]?.countryCode,
    topCity: data.cities.data?.[0]?.city,
    urls: data.urls.data?.map((row) => row.url),
    hostnames: data.hostnames.data?.length,
    totalUsers: stats.users.data?.totalUsers,
    visitors: stats.overview.data?.results.visitors.value,
    timeseriesPoints: stats.timeseries.data?.results.length,
    breakdownRows: stats.breakdown.data?.results.length,
    queryRows: stats.query.data?.results.length,
    realtimeVisitors: stats.realtime.data?.visitors,
    statuses: [...Object.values(data), ...Object.values(stats)].map((result) => result.response.status),
  };
}
