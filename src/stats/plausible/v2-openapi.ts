import type { SchemaObject } from '@nestjs/swagger';
import { V2_DIMENSIONS, V2_METRICS, V2_TIME_DIMENSIONS } from './v2-names.js';

/** The v2 request and response in the OpenAPI document, from the same name tables the translation uses. */
export const V2_QUERY_REQUEST_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['site_id', 'metrics', 'date_range'],
  additionalProperties: false,
  properties: {
    site_id: { type: 'string', example: 'example.com', description: 'The site domain' },
    metrics: { type: 'array', minItems: 1, items: { type: 'string', enum: Object.keys(V2_METRICS) } },
    date_range: {
      oneOf: [
        { type: 'string', enum: ['day', '7d', '28d', '30d', '91d', 'month', '6mo', '12mo', 'year', 'all'] },
        { type: 'array', minItems: 2, maxItems: 2, items: { type: 'string', format: 'date' } },
      ],
      example: '7d',
      description: 'Relative to today in the site time zone, today included; or two ISO dates (inclusive)',
    },
    dimensions: {
      type: 'array',
      items: {
        oneOf: [
          { type: 'string', enum: [...Object.keys(V2_DIMENSIONS), ...Object.keys(V2_TIME_DIMENSIONS)] },
          { type: 'string', pattern: '^event:props:[^$.][^.]{0,63}$' },
        ],
      },
      example: ['event:page'],
      description:
        'visit:source, visit:referrer, visit:utm_* and visit:entry_page/exit_page are the visit’s (from its first hit), ' +
        'as in Plausible: every hit of a visit counts under them. visit:country/region/city/device/browser/os are ' +
        'read per hit in Siteline.',
    },
    filters: {
      type: 'array',
      items: { type: 'array', items: {} },
      example: [['is', 'visit:country', ['DE']]],
      description:
        '[operator, dimension, values] with is, is_not, contains, contains_not; and/or/not trees that Siteline can ' +
        'read as conditions that must all hold (or only between is/contains conditions on one dimension)',
    },
    order_by: {
      type: 'array',
      items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 },
      example: [['visitors', 'desc']],
      description:
        'Queried metrics or dimensions with asc or desc; default: time ascending, then the first metric descending',
    },
    include: {
      type: 'object',
      properties: { time_labels: { type: 'boolean' }, total_rows: { type: 'boolean' }, imports: { type: 'boolean' } },
    },
    pagination: {
      type: 'object',
      properties: {
        limit: { type: 'integer', minimum: 1, maximum: 10000, default: 10000 },
        offset: { type: 'integer', minimum: 0, default: 0 },
      },
    },
  },
};

export const V2_QUERY_RESPONSE_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['results', 'meta', 'query'],
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          dimensions: { type: 'array', items: { type: 'string', nullable: true } },
          metrics: {
            type: 'array',
            description:
              'Numbers, except total_revenue and average_revenue: { short, long, value, currency }, or null when the goals report no revenue',
            items: {
              oneOf: [
                { type: 'number' },
                {
                  type: 'object',
                  nullable: true,
                  properties: {
                    short: { type: 'string', example: '€1.2K' },
                    long: { type: 'string', example: '€1,234.50' },
                    value: { type: 'number', example: 1234.5 },
                    currency: { type: 'string', example: 'EUR' },
                  },
                },
              ],
            },
          },
        },
      },
    },
    meta: {
      type: 'object',
      properties: {
        time_labels: { type: 'array', items: { type: 'string' } },
        total_rows: { type: 'integer' },
        imports_included: { type: 'boolean' },
      },
    },
    query: { type: 'object', description: 'The query as answered: date_range as UTC instants, defaults filled in' },
  },
};

export const V2_ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', example: 400 },
    error: {
      type: 'string',
      example: 'Invalid date_range "8d"',
      description: "The message, where Plausible's clients read it",
    },
    message: { type: 'string', example: 'Invalid date_range "8d"' },
  },
};
