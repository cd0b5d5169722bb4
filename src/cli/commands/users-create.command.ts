import { Command, CommandRunner, Option } from 'nest-commander';
import { ROLES, type Role } from '../../auth/principal.js';
import { UsersService } from '../../auth/users.service.js';
import { readPassword } from '../password-input.js';

interface UsersCreateOptions {
  email: string;
  role: Role;
  siteIds?: string[];
}

/** Creates an account; the password comes from stdin or a prompt, never from an argument. */
@Command({
  name: 'users:create',
  description: 'Create an account. The password is read from stdin (piped) or typed at a prompt without echo.',
})
export class UsersCreateCommand extends CommandRunner {
  constructor(private readonly users: UsersService) {
    super();
  }

  async run(_params: string[], options: UsersCreateOptions): Promise<void> {
    const password = await readPassword('Password: ');
    const user = await this.users.createUser({
      email: options.email,
      password,
      role: options.role,
      siteIds: options.siteIds,
    });
    process.stdout.write(`Created ${user.role} ${user.email} (id ${user.id})\n`);
  }

  @Option({ flags: '--email <email>', description: 'Login email', required: true })
  parseEmail(value: string): string {
    return value;
  }

  @Option({ flags: '--role <role>', description: 'admin or viewer', required: true })
  parseRole(value: string): Role {
    if (!(ROLES as readonly string[]).includes(value)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
    return value as Role;
  }

  @Option({ flags: '--site-ids <ids>', description: 'Comma-separated site ids a viewer may read' })
  parseSiteIds(value: string): string[] {
    return splitList(value);
  }
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
