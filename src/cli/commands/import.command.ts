import { Command, CommandRunner, Option } from 'nest-commander';
import { CliSites } from '../cli-sites.js';
import { fileSize, formatOfFile } from '../import/hit-records.js';
import { HitImporter } from '../import/hit-importer.js';
import { ProgressBar } from '../progress.js';

interface ImportOptions {
  site: string;
}

/** `import --site S file.ndjson|file.csv`: progress on stderr, the summary on stdout. */
@Command({
  name: 'import',
  arguments: '<file>',
  description:
    'Import hits from NDJSON or CSV (header row) through the API’s validation and enrichment. Idempotent: ' +
    're-running adds nothing, so an interrupted import is resumed by running it again.',
})
export class ImportCommand extends CommandRunner {
  constructor(
    private readonly sites: CliSites,
    private readonly importer: HitImporter,
  ) {
    super();
  }

  async run([path]: string[], options: ImportOptions): Promise<void> {
    const format = formatOfFile(path);
    const site = await this.sites.resolve(options.site);
    const progress = new ProgressBar('import', await fileSize(path));
    const started = performance.now();
    const summary = await this.importer.import(site, path, format, (bytes, records) => progress.update(bytes, records));
    progress.finish(summary.records);
    const seconds = (performance.now() - started) / 1000;
    const lines = [
      `accepted ${summary.accepted}, duplicates ${summary.duplicates}, rejected ${summary.rejected}`,
      `${summary.records} records in ${seconds.toFixed(1)} s (${Math.round(summary.records / Math.max(seconds, 0.001))} records/s)`,
      ...summary.rejections.map(({ line, error }) => `  line ${line}: ${error}`),
    ];
    if (summary.rejected > summary.rejections.length)
      lines.push(`  … and ${summary.rejected - summary.rejections.length} more`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (summary.rejected > 0) process.exitCode = 2;
  }

  @Option({ flags: '--site <site>', description: 'Site id or domain', required: true })
  parseSite(value: string): string {
    return value;
  }
}
