import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/time/clock.js';
import { EnrichmentService } from '../../ingestion/enrichment/enrichment.service.js';
import { HitWriter } from '../../ingestion/hit-writer.js';
import { validateItem } from '../../ingestion/hit-validation.js';
import type { NewHit } from '../../hits/hits.repository.js';
import { IngestService } from '../../ingestion/ingest.service.js';
import { SessionsService } from '../../sessions/sessions.service.js';
import type { SiteView } from '../../sites/site-view.js';
import { ArchivedHitDto, isArchivedRecord, restoreArchivedHit } from '../archived-hit.js';
import { derivedEventId } from './derived-event-id.js';
import { readHitRecords, type HitFileFormat, type HitRecord } from './hit-records.js';

/** Records per write: the API's own batch limit. */
export const IMPORT_BATCH_SIZE = 500;
/** Batches in flight at once, matching the writer's concurrent inserts. */
const BATCHES_IN_FLIGHT = 4;
const REJECTIONS_KEPT = 10;
/** Visitors sessionized concurrently after an import. */
const SESSIONIZE_WORKERS = 4;
const SESSIONIZE_ATTEMPTS = 10;

export interface ImportSummary {
  records: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The first rejections, in file order. */
  rejections: Array<{ line: number; error: string }>;
}

interface BatchOutcome {
  accepted: number;
  duplicates: number;
  rejections: Array<{ line: number; error: string }>;
}

/**
 * `import`: streams an NDJSON or CSV file in batches through the ingest pipeline as a trusted
 * key-level sender. A record in the `POST /api/v1/hits` shape goes through IngestService (same
 * validation, enrichment and group-commit writer); an `export` record is restored as exported
 * (see archived-hit.ts). Every record gets an eventId (its own, or one derived from its line), so
 * an interrupted import is resumed by running it again: what was stored counts as duplicates.
 */
@Injectable()
export class HitImporter {
  constructor(
    private readonly ingest: IngestService,
    private readonly enrichment: EnrichmentService,
    private readonly writer: HitWriter,
    private readonly sessions: SessionsService,
    private readonly clock: Clock,
  ) {}

  async import(
    site: SiteView,
    path: string,
    format: HitFileFormat,
    onProgress: (bytesRead: number, records: number) => void,
  ): Promise<ImportSummary> {
    await this.enrichment.ready();
    this.sessions.deferBackgroundSessionizing();
    const summary: ImportSummary = { records: 0, accepted: 0, duplicates: 0, rejected: 0, rejections: [] };
    const inFlight: Array<Promise<BatchOutcome>> = [];
    const settle = async (outcome: Promise<BatchOutcome>) => {
      const { accepted, duplicates, rejections } = await outcome;
      summary.accepted += accepted;
      summary.duplicates += duplicates;
      summary.rejected += rejections.length;
      summary.rejections.push(...rejections.slice(0, REJECTIONS_KEPT - summary.rejections.length));
    };
    let batch: HitRecord[] = [];
    const submit = async () => {
      inFlight.push(this.importBatch(site, batch));
      batch = [];
      if (inFlight.length >= BATCHES_IN_FLIGHT) await settle(inFlight.shift()!);
    };
    for await (const record of readHitRecords(path, format)) {
      summary.records++;
      batch.push(record);
      if (batch.length === IMPORT_BATCH_SIZE) {
        await submit();
        onProgress(record.bytesRead, summary.records);
      }
    }
    if (batch.length > 0) await submit();
    while (inFlight.length > 0) await settle(inFlight.shift()!);
    await this.sessionize(site);
    return summary;
  }

  /**
   * Visits are computed once per visitor, at the end, before the command returns. One flush gives
   * up after a fixed time; a large import on a slow store may need several, each picking up
   * where the last stopped.
   */
  private async sessionize(site: SiteView): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sessions.flush(site.id, SESSIONIZE_WORKERS);
        return;
      } catch (error) {
        if (attempt >= SESSIONIZE_ATTEMPTS) throw error;
      }
    }
  }

  private async importBatch(site: SiteView, records: HitRecord[]): Promise<BatchOutcome> {
    const rejections: Array<{ line: number; error: string }> = [];
    const plain: HitRecord[] = [];
    const archived: Array<{ record: HitRecord; hit: NewHit }> = [];
    const receivedAt = this.clock.now();
    for (const record of records) {
      if (typeof record.value === 'string') rejections.push({ line: record.line, error: record.value });
      else if (!isArchivedRecord(record.value)) plain.push(record);
      else {
        const dto = validateItem(ArchivedHitDto, record.value);
        const hit = typeof dto === 'string' ? dto : restoreArchivedHit(this.enrichment, site, dto, receivedAt);
        if (typeof hit === 'string') rejections.push({ line: record.line, error: hit });
        else archived.push({ record, hit });
      }
    }
    const [fromPlain, fromArchive] = await Promise.all([this.importPlain(site, plain), this.writeArchived(archived)]);
    rejections.push(...fromPlain.rejections, ...fromArchive.rejections);
    rejections.sort((a, b) => a.line - b.line);
    return {
      accepted: fromPlain.accepted + fromArchive.accepted,
      duplicates: fromPlain.duplicates + fromArchive.duplicates,
      rejections,
    };
  }

  private async importPlain(site: SiteView, records: HitRecord[]): Promise<BatchOutcome> {
    if (records.length === 0) return { accepted: 0, duplicates: 0, rejections: [] };
    const items = records.map(({ line, text, value }) => {
      const item = value as Record<string, unknown>;
      return 'eventId' in item ? item : { ...item, eventId: derivedEventId(line, text) };
    });
    const result = await this.ingest.ingestTrusted(site, items);
    return {
      accepted: result.accepted,
      duplicates: result.duplicates,
      rejections: result.rejected.map(({ index, error }) => ({ line: records[index].line, error })),
    };
  }

  private async writeArchived(archived: Array<{ record: HitRecord; hit: NewHit }>): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { accepted: 0, duplicates: 0, rejections: [] };
    const results = await this.writer.write(archived.map(({ hit }) => hit));
    results.forEach((result, index) => {
      if (result === 'stored') outcome.accepted++;
      else if (result === 'duplicate') outcome.duplicates++;
      else outcome.rejections.push({ line: archived[index].record.line, error: 'hit could not be stored' });
    });
    return outcome;
  }
}
