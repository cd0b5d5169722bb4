import { MongoClient, type Db } from 'mongodb';

/**
 * How far the app's background maintenance is, read from its own bookkeeping in the database
 * (the bench opens a second connection to the same store):
 * - the rollup job's watermark (`stats_rollup_state`, `_id: 'watermark'`): every hit received up
 *   to `at` is in the derived collections;
 * - the sessionizer's work list (`visitor_dirty`): visitors whose visits are not yet computed.
 * A different maintenance design keeps other bookkeeping: this is the one place to adapt.
 */
export interface MaintenanceReading {
  /** null: no run has finished yet; undefined: the store did not answer this time. */
  coveredThrough: Date | null | undefined;
  /** null when the store did not answer (it is busy: the sample is skipped, not guessed). */
  sessionizerBacklog: number | null;
}

const READ_TIMEOUT_MS = 10_000;

export class MaintenanceState {
  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
  ) {}

  static async connect(uri: string): Promise<MaintenanceState> {
    const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: READ_TIMEOUT_MS });
    return new MaintenanceState(client, client.db());
  }

  async read(): Promise<MaintenanceReading> {
    const [watermark, backlog] = await Promise.all([
      this.db
        .collection<{ _id: string; at?: Date }>('stats_rollup_state')
        .findOne({ _id: 'watermark' }, { maxTimeMS: READ_TIMEOUT_MS })
        .catch(() => undefined),
      this.db
        .collection('visitor_dirty')
        .countDocuments({}, { maxTimeMS: READ_TIMEOUT_MS })
        .catch(() => null),
    ]);
    return {
      coveredThrough: watermark === undefined ? undefined : (watermark?.at ?? null),
      sessionizerBacklog: backlog,
    };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
