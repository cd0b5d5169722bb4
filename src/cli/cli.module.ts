import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { CommonModule } from '../common/common.module.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { LeaseModule } from '../database/leases/lease.module.js';
import { IngestionModule } from '../ingestion/ingestion.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { DataPurgeModule } from '../retention/data-purge.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SitesModule } from '../sites/sites.module.js';
import { StatsModule } from '../stats/stats.module.js';
import { CliSites } from './cli-sites.js';
import { DbInitCommand } from './commands/db-init.command.js';
import { ExportCommand } from './commands/export.command.js';
import { ImportCommand } from './commands/import.command.js';
import { PurgeCommand } from './commands/purge.command.js';
import { SitesCreateCommand } from './commands/sites-create.command.js';
import { UsersCreateCommand } from './commands/users-create.command.js';
import { HitExporter } from './export/hit-exporter.js';
import { HitImporter } from './import/hit-importer.js';

/**
 * The application's feature modules without the HTTP-only ones (health, dashboard, logging
 * middleware), plus the commands. StatsModule and LeaseModule are here so `db:init` sees their
 * collections and so a purge reaches every listener for derived data. MetricsModule provides the
 * counters the ingest pipeline updates; nothing serves them in a CLI run.
 */
@Module({
  imports: [
    ConfigModule,
    CommonModule,
    DatabaseModule.forRoot({ connectRetries: 0 }),
    MetricsModule,
    AuthModule,
    SitesModule,
    SessionsModule,
    IngestionModule,
    StatsModule,
    DataPurgeModule,
    LeaseModule,
  ],
  providers: [
    CliSites,
    HitImporter,
    HitExporter,
    DbInitCommand,
    UsersCreateCommand,
    SitesCreateCommand,
    ImportCommand,
    ExportCommand,
    PurgeCommand,
  ],
})
export class CliModule {}
