import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { SiteKey, SiteKeySchema } from './schemas/site-key.schema.js';
import { Site, SiteSchema } from './schemas/site.schema.js';
import { SiteKeysRepository } from './site-keys.repository.js';
import { SitesController } from './sites.controller.js';
import { SitesRepository } from './sites.repository.js';
import { SitesService } from './sites.service.js';

/** Sites, their settings and their keys. Other modules use `SitesService` and the pure helpers in `site-rules.ts`. */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: Site.name, schema: SiteSchema },
      { name: SiteKey.name, schema: SiteKeySchema },
    ]),
  ],
  controllers: [SitesController],
  providers: [SitesRepository, SiteKeysRepository, SitesService],
  exports: [SitesService],
})
export class SitesModule {}
