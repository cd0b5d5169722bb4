import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoServerError, type Collection, type Document } from 'mongodb';
import { startTarget, type Target } from './harness.js';

const at = (iso: string): Date => new Date(iso);
const BERLIN = 'Europe/Berlin';
const BUENOS_AIRES = 'America/Argentina/Buenos_Aires';

describe('date operators with timezones', () => {
  let target: Target;
  let hits: Collection<Document>;

  beforeAll(async () => {
    target = await startTarget('dates');
    hits = target.db.collection('hits');
    await hits.insertMany([
      { _id: 1, at: at('2024-03-01T10:00:00Z') },
      { _id: 2, at: at('2024-03-01T23:30:00Z') },
      { _id: 3, at: at('2024-03-03T12:00:00Z') },
      { _id: 4, at: at('2024-03-06T02:00:00Z') },
      { _id: 5, at: at('2024-03-31T22:30:00Z') },
      { _id: 6, at: at('2024-10-27T00:30:00Z') },
      { _id: 7, at: at('2024-10-27T01:30:00Z') },
    ] as Document[]);
  });
  afterAll(async () => target.stop());

  const column = async (expression: Document): Promise<unknown[]> =>
    (await hits.aggregate([{ $sort: { _id: 1 } }, { $project: { _id: 0, v: expression } }]).toArray()).map((d) => d.v);

  it('$dateToString in UTC, GMT, Berlin (across DST) and Buenos Aires', async () => {
    const day = (timezone: string) => column({ $dateToString: { date: '$at', format: '%Y-%m-%d', timezone } });
    expect(await day('UTC')).toEqual([
      '2024-03-01',
      '2024-03-01',
      '2024-03-03',
      '2024-03-06',
      '2024-03-31',
      '2024-10-27',
      '2024-10-27',
    ]);
    expect(await day('GMT')).toEqual(await day('UTC'));
    expect(await day(BERLIN)).toEqual([
      '2024-03-01',
      '2024-03-02',
      '2024-03-03',
      '2024-03-06',
      '2024-04-01',
      '2024-10-27',
      '2024-10-27',
    ]);
    expect(await day(BUENOS_AIRES)).toEqual([
      '2024-03-01',
      '2024-03-01',
      '2024-03-03',
      '2024-03-05',
      '2024-03-31',
      '2024-10-26',
      '2024-10-26',
    ]);
    expect(await column({ $dateToString: { date: '$at', format: '%H:%M %z', timezone: BERLIN } })).toEqual([
      '11:00 +0100',
      '00:30 +0100',
      '13:00 +0100',
      '03:00 +0100',
      '00:30 +0200',
      '02:30 +0200',
      '02:30 +0100',
    ]);
    expect(await column({ $dateToString: { date: '$at', format: '%H:%M %z', timezone: '+05:30' } })).toContain(
      '15:30 +0530',
    );
    expect((await column({ $dateToString: { date: '$at' } }))[0]).toBe('2024-03-01T10:00:00.000Z');
    expect((await column({ $dateToString: { date: '$at', format: '%j|%U|%V|%G|%u|%w|%L|%%' } }))[3]).toBe(
      '066|09|10|2024|3|4|000|%',
    );
    expect(await column({ $dateToString: { date: '$missing', onNull: 'none' } })).toEqual(Array(7).fill('none'));
  });

  it('date part operators honour the timezone', async () => {
    expect(await column({ $hour: { date: '$at', timezone: BERLIN } })).toEqual([11, 0, 13, 3, 0, 2, 2]);
    expect(await column({ $hour: { date: '$at', timezone: BUENOS_AIRES } })).toEqual([7, 20, 9, 23, 19, 21, 22]);
    expect(await column({ $dayOfMonth: { date: '$at', timezone: 'UTC' } })).toEqual([1, 1, 3, 6, 31, 27, 27]);
    expect(await column({ $dayOfWeek: '$at' })).toEqual([6, 6, 1, 4, 1, 1, 1]);
    expect(await column({ $dayOfWeek: { date: '$at', timezone: BUENOS_AIRES } })).toEqual([6, 6, 1, 3, 1, 7, 7]);
    expect(await column({ $month: { date: '$at', timezone: BERLIN } })).toEqual([3, 3, 3, 3, 4, 10, 10]);
    expect(await column({ $year: '$at' })).toEqual(Array(7).fill(2024));
    expect(await column({ $isoWeek: '$at' })).toEqual([9, 9, 9, 10, 13, 43, 43]);
  });

  it('$dateTrunc by day, week, month and hour bins in timezones', async () => {
    expect(await column({ $dateTrunc: { date: '$at', unit: 'day', timezone: BERLIN } })).toEqual([
      at('2024-02-29T23:00:00Z'),
      at('2024-03-01T23:00:00Z'),
      at('2024-03-02T23:00:00Z'),
      at('2024-03-05T23:00:00Z'),
      at('2024-03-31T22:00:00Z'),
      at('2024-10-26T22:00:00Z'),
      at('2024-10-26T22:00:00Z'),
    ]);
    expect(await column({ $dateTrunc: { date: '$at', unit: 'day', timezone: BUENOS_AIRES } })).toEqual([
      at('2024-03-01T03:00:00Z'),
      at('2024-03-01T03:00:00Z'),
      at('2024-03-03T03:00:00Z'),
      at('2024-03-05T03:00:00Z'),
      at('2024-03-31T03:00:00Z'),
      at('2024-10-26T03:00:00Z'),
      at('2024-10-26T03:00:00Z'),
    ]);
    const weekUtc = await column({ $dateTrunc: { date: '$at', unit: 'week', timezone: 'UTC' } });
    expect(weekUtc.slice(0, 4)).toEqual([
      at('2024-02-25T00:00:00Z'),
      at('2024-02-25T00:00:00Z'),
      at('2024-03-03T00:00:00Z'),
      at('2024-03-03T00:00:00Z'),
    ]);
    const weekMonday = await column({ $dateTrunc: { date: '$at', unit: 'week', startOfWeek: 'monday' } });
    expect(weekMonday.slice(2, 4)).toEqual([at('2024-02-26T00:00:00Z'), at('2024-03-04T00:00:00Z')]);
    const month = await column({ $dateTrunc: { date: '$at', unit: 'month', timezone: BERLIN } });
    expect([month[0], month[4]]).toEqual([at('2024-02-29T23:00:00Z'), at('2024-03-31T22:00:00Z')]);
    const sixHours = await column({ $dateTrunc: { date: '$at', unit: 'hour', binSize: 6 } });
    expect(sixHours[0]).toEqual(at('2024-03-01T06:00:00Z'));
  });

  it('$dateFromParts interprets the parts in the given timezone', async () => {
    const [parts] = await hits
      .aggregate([
        { $limit: 1 },
        {
          $project: {
            _id: 0,
            utc: { $dateFromParts: { year: 2024, month: 1, day: 1, timezone: 'UTC' } },
            berlinSummer: { $dateFromParts: { year: 2024, month: 7, day: 1, timezone: BERLIN } },
            berlinWinter: { $dateFromParts: { year: 2024, month: 1, day: 1, hour: 12, timezone: BERLIN } },
            buenosAires: { $dateFromParts: { year: 2024, month: 1, day: 1, timezone: BUENOS_AIRES } },
            carry: { $dateFromParts: { year: 2024, month: 13, day: 1 } },
            offset: { $dateFromParts: { year: 2024, month: 3, day: 1, hour: 1, timezone: '-03:00' } },
          },
        },
      ])
      .toArray();
    expect(parts).toEqual({
      utc: at('2024-01-01T00:00:00Z'),
      berlinSummer: at('2024-06-30T22:00:00Z'),
      berlinWinter: at('2024-01-01T11:00:00Z'),
      buenosAires: at('2024-01-01T03:00:00Z'),
      carry: at('2025-01-01T00:00:00Z'),
      offset: at('2024-03-01T04:00:00Z'),
    });
  });

  it('groups visits per local day', async () => {
    const perDay = await hits
      .aggregate([
        { $group: { _id: { $dateToString: { date: '$at', format: '%Y-%m-%d', timezone: BERLIN } }, n: { $sum: 1 } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(perDay).toEqual([
      { _id: '2024-03-01', n: 1 },
      { _id: '2024-03-02', n: 1 },
      { _id: '2024-03-03', n: 1 },
      { _id: '2024-03-06', n: 1 },
      { _id: '2024-04-01', n: 1 },
      { _id: '2024-10-27', n: 2 },
    ]);
  });

  it('rewrites only the timezone argument of date operators, never a `timezone` field in $match, $unionWith or $set', async () => {
    const sites = target.db.collection<{ _id: string; timezone: string }>('sites');
    await sites.insertMany([
      { _id: 's1', timezone: 'UTC' },
      { _id: 's2', timezone: BERLIN },
    ]);
    expect(await sites.aggregate([{ $sort: { _id: 1 } }, { $match: { timezone: 'UTC' } }]).toArray()).toEqual([
      { _id: 's1', timezone: 'UTC' },
    ]);
    expect(
      await hits
        .aggregate([
          { $match: { _id: 1 } },
          { $project: { _id: 1 } },
          { $set: { timezone: 'GMT' } },
          { $unionWith: { coll: 'sites', pipeline: [{ $match: { timezone: 'UTC' } }] } },
        ])
        .toArray(),
    ).toEqual([
      { _id: 1, timezone: 'GMT' },
      { _id: 's1', timezone: 'UTC' },
    ]);
    expect(
      await hits
        .aggregate([
          { $match: { _id: 1 } },
          {
            $project: {
              _id: 0,
              days: {
                $dateDiff: { startDate: at('2024-02-28T00:00:00Z'), endDate: '$at', unit: 'day', timezone: 'UTC' },
              },
            },
          },
        ])
        .toArray(),
    ).toEqual([{ days: 2 }]);
  });

  it('rejects an unknown timezone with an error reply', async () => {
    const error = await column({ $dateToString: { date: '$at', timezone: 'Mars/Olympus_Mons' } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(40485);
  });
});
