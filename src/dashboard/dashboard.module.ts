import { Module } from '@nestjs/common';
import { DashboardAssets } from './dashboard-assets.js';
import { DashboardController } from './dashboard.controller.js';

@Module({
  controllers: [DashboardController],
  providers: [DashboardAssets],
})
export class DashboardModule {}
