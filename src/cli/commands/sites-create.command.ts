import { Command, CommandRunner, Option } from 'nest-commander';
import { KEY_SCOPES, type KeyScope } from '../../auth/principal.js';
import { SitesService } from '../../sites/sites.service.js';
import { splitList } from './users-create.command.js';

interface SitesCreateOptions {
  domain: string;
  name?: string;
  timezone?: string;
  scopes?: KeyScope[];
}

/** Creates a site and one key for it; the key is printed once and stored only hashed. */
@Command({ name: 'sites:create', description: 'Create a site and print its id and a new site key (shown once)' })
export class SitesCreateCommand extends CommandRunner {
  constructor(private readonly sites: SitesService) {
    super();
  }

  async run(_params: string[], options: SitesCreateOptions): Promise<void> {
    const site = await this.sites.create({
      domain: options.domain,
      name: options.name ?? options.domain,
      timezone: options.timezone,
    });
    const key = await this.sites.createKey(site.id, options.scopes ?? ['ingest']);
    process.stdout.write(
      `site id: ${site.id}\ndomain:  ${site.domain}\nkey:     ${key.key}\nscopes:  ${key.scopes.join(',')}\n` +
        'The key is shown only this once; store it now.\n',
    );
  }

  @Option({ flags: '--domain <domain>', description: 'The site domain, e.g. example.com', required: true })
  parseDomain(value: string): string {
    return value;
  }

  @Option({ flags: '--name <name>', description: 'Display name (default: the domain)' })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '--timezone <zone>', description: 'IANA time zone of the site’s calendar days (default UTC)' })
  parseTimezone(value: string): string {
    return value;
  }

  @Option({ flags: '--scopes <scopes>', description: 'Key scopes, comma-separated: ingest,read (default ingest)' })
  parseScopes(value: string): KeyScope[] {
    const scopes = splitList(value);
    const unknown = scopes.filter((scope) => !(KEY_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0 || scopes.length === 0) throw new Error(`--scopes must list ${KEY_SCOPES.join(' and/or ')}`);
    return scopes as KeyScope[];
  }
}
