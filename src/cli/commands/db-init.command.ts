import { InjectConnection } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { Command, CommandRunner } from 'nest-commander';

/**
 * Creates every collection and the indexes declared on its schema (the app also does this at
 * boot; running it first makes a deployment's first requests not wait for index builds).
 * `createIndexes` only adds: it never drops an index someone created by hand.
 */
@Command({ name: 'db:init', description: 'Create all collections and their indexes' })
export class DbInitCommand extends CommandRunner {
  constructor(@InjectConnection() private readonly connection: Connection) {
    super();
  }

  async run(): Promise<void> {
    const models = Object.values(this.connection.models).sort((a, b) =>
      a.collection.name.localeCompare(b.collection.name),
    );
    for (const model of models) {
      await model.createCollection();
      await model.createIndexes();
      const indexes = await model.collection.indexes();
      process.stdout.write(`${model.collection.name}: ${indexes.map((index) => index.name).join(', ')}\n`);
    }
    process.stdout.write(`${models.length} collections ready\n`);
  }
}
