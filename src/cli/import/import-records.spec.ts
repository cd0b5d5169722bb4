import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCsvRecord, parseCsvRecord } from './csv.js';
import { derivedEventId } from './derived-event-id.js';
import { formatOfFile, readHitRecords, type HitRecord } from './hit-records.js';

async function records(name: string, content: string): Promise<HitRecord[]> {
  const dir = mkdtempSync(join(tmpdir(), 'siteline-records-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, content);
    const read: HitRecord[] = [];
    for await (const record of readHitRecords(path, formatOfFile(path))) read.push(record);
    return read;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('CSV fields', () => {
  it('round-trips commas, quotes and line breaks', () => {
    const values = ['plain', 'with,comma', 'with "quotes"', 'two\nlines', ''];
    expect(parseCsvRecord(formatCsvRecord(values))).toEqual(values);
  });
});

describe('derivedEventId', () => {
  it('is stable for the same line and differs by line number and text', () => {
    expect(derivedEventId(3, '{"url":"/"}')).toBe(derivedEventId(3, '{"url":"/"}'));
    expect(derivedEventId(3, '{"url":"/"}')).not.toBe(derivedEventId(4, '{"url":"/"}'));
    expect(derivedEventId(3, '{"url":"/"}')).not.toBe(derivedEventId(3, '{"url":"/a"}'));
    expect(derivedEventId(1, 'x').length).toBeLessThanOrEqual(128);
  });
});

describe('readHitRecords', () => {
  it('reads NDJSON by line, skipping blank lines and naming unparseable ones', async () => {
    const read = await records('hits.ndjson', '{"url":"/a"}\n\nnot json\n[1]\n{"url":"/b"}\n');
    expect(read.map(({ line, value }) => [line, value])).toEqual([
      [1, { url: '/a' }],
      [3, 'line is not valid JSON'],
      [4, 'hit must be a JSON object'],
      [5, { url: '/b' }],
    ]);
  });

  it('reads CSV rows by the header, leaves empty cells out, parses props and keeps quoted line breaks', async () => {
    const read = await records(
      'hits.csv',
      'url,referrer,props\n/a,,"{""plan"":""pro""}"\n"/b\nc",https://x.example/,\n/c,only-two\n',
    );
    expect(read.map(({ line, value }) => [line, value])).toEqual([
      [2, { url: '/a', props: { plan: 'pro' } }],
      [3, { url: '/b\nc', referrer: 'https://x.example/' }],
      [5, 'row has 2 fields, the header 3'],
    ]);
    expect(read[1].text).toBe('"/b\nc",https://x.example/,');
  });

  it('rejects files that are neither NDJSON nor CSV', () => {
    expect(() => formatOfFile('hits.xlsx')).toThrow(/\.ndjson, \.jsonl or \.csv/);
  });
});
