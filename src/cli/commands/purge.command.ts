import { Command, CommandRunner, Option } from 'nest-commander';
import { DataPurgeService } from '../../retention/data-purge.service.js';
import { CliSites } from '../cli-sites.js';

interface PurgeOptions {
  site: string;
  before: string;
}

/** `purge --site S --before DATE`: what `DELETE /api/v1/sites/:id/data?before=DATE` does. */
@Command({ name: 'purge', description: 'Delete a site’s hits (and visits) before a day in the site’s time zone' })
export class PurgeCommand extends CommandRunner {
  constructor(
    private readonly sites: CliSites,
    private readonly purge: DataPurgeService,
  ) {
    super();
  }

  async run(_params: string[], options: PurgeOptions): Promise<void> {
    const site = await this.sites.resolve(options.site);
    const { before, deleted } = await this.purge.purgeSiteBeforeDay(site, options.before);
    process.stdout.write(
      `deleted ${deleted.hits} hits, ${deleted.visits} visits and ${deleted.engagements} engagements before ${before.toISOString()}\n`,
    );
  }

  @Option({ flags: '--site <site>', description: 'Site id or domain', required: true })
  parseSite(value: string): string {
    return value;
  }

  @Option({ flags: '--before <date>', description: 'Delete data before this day, YYYY-MM-DD', required: true })
  parseBefore(value: string): string {
    return value;
  }
}
