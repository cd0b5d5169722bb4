import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Command, CommandRunner, Option } from 'nest-commander';
import { parseCalendarDate, startOfZonedDay } from '../../common/time/calendar.js';
import type { SiteView } from '../../sites/site-view.js';
import { CliSites } from '../cli-sites.js';
import { HitExporter, type ExportFormat } from '../export/hit-exporter.js';

interface ExportOptions {
  site: string;
  from: string;
  to: string;
  format?: ExportFormat;
  out?: string;
}

/** `export --site S --from D --to D`: both days inclusive, in the site's time zone. */
@Command({
  name: 'export',
  description:
    'Stream a site’s hits (NDJSON or CSV) for re-import or analysis; days are inclusive, in the site’s time zone',
})
export class ExportCommand extends CommandRunner {
  constructor(
    private readonly sites: CliSites,
    private readonly exporter: HitExporter,
  ) {
    super();
  }

  async run(_params: string[], options: ExportOptions): Promise<void> {
    const site = await this.sites.resolve(options.site);
    const { from, to } = siteDayRange(site, options.from, options.to);
    const out = options.out ? createWriteStream(options.out) : process.stdout;
    const count = await this.exporter.export(site, from, to, options.format ?? 'ndjson', out);
    if (options.out) {
      out.end();
      await finished(out);
    }
    process.stderr.write(`exported ${count} hits\n`);
  }

  @Option({ flags: '--site <site>', description: 'Site id or domain', required: true })
  parseSite(value: string): string {
    return value;
  }

  @Option({ flags: '--from <date>', description: 'First day, YYYY-MM-DD', required: true })
  parseFrom(value: string): string {
    return value;
  }

  @Option({ flags: '--to <date>', description: 'Last day, YYYY-MM-DD', required: true })
  parseTo(value: string): string {
    return value;
  }

  @Option({ flags: '--format <format>', description: 'ndjson (default) or csv' })
  parseFormat(value: string): ExportFormat {
    if (value !== 'ndjson' && value !== 'csv') throw new Error('--format must be ndjson or csv');
    return value;
  }

  @Option({ flags: '--out <file>', description: 'Write to this file instead of stdout' })
  parseOut(value: string): string {
    return value;
  }
}

/** [start of `from`, start of the day after `to`) in the site's time zone. */
function siteDayRange(site: SiteView, fromDay: string, toDay: string): { from: Date; to: Date } {
  const first = parseCalendarDate(fromDay);
  const last = parseCalendarDate(toDay);
  if (!first) throw new Error('--from must be a date YYYY-MM-DD');
  if (!last) throw new Error('--to must be a date YYYY-MM-DD');
  const afterLast = new Date(Date.UTC(last.year, last.month - 1, last.day + 1));
  const from = startOfZonedDay(first, site.timezone);
  const to = startOfZonedDay(
    { year: afterLast.getUTCFullYear(), month: afterLast.getUTCMonth() + 1, day: afterLast.getUTCDate() },
    site.timezone,
  );
  if (to <= from) throw new Error('--to must not be before --from');
  return { from, to };
}
