import { Injectable } from '@nestjs/common';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Types } from 'mongoose';
import { HitsRepository } from '../../hits/hits.repository.js';
import type { SiteView } from '../../sites/site-view.js';
import { EXPORT_COLUMNS, toExportedHit, type ExportedHit } from '../archived-hit.js';
import { formatCsvRecord } from '../import/csv.js';

export type ExportFormat = 'ndjson' | 'csv';

/**
 * `export`: a site's hits in a time range, streamed from a MongoDB cursor to the output with
 * back-pressure, so memory stays constant whatever the range. Records are re-importable (see
 * archived-hit.ts).
 */
@Injectable()
export class HitExporter {
  constructor(private readonly hits: HitsRepository) {}

  async export(site: SiteView, from: Date, to: Date, format: ExportFormat, out: Writable): Promise<number> {
    let count = 0;
    if (format === 'csv') await write(out, `${EXPORT_COLUMNS.join(',')}\n`);
    for await (const hit of this.hits.streamSiteHits(new Types.ObjectId(site.id), from, to)) {
      const record = toExportedHit(hit);
      await write(out, `${format === 'csv' ? csvLine(record) : JSON.stringify(record)}\n`);
      count++;
    }
    return count;
  }
}

function csvLine(record: ExportedHit): string {
  return formatCsvRecord(
    EXPORT_COLUMNS.map((column) => {
      const value = record[column];
      if (value === undefined) return '';
      return typeof value === 'string' ? value : JSON.stringify(value);
    }),
  );
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}
