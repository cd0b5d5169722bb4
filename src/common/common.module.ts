import { Global, Module } from '@nestjs/common';
import { ShutdownDeadline } from './lifecycle/shutdown-deadline.js';
import { Clock, SystemClock } from './time/clock.js';

@Global()
@Module({
  providers: [{ provide: Clock, useClass: SystemClock }, ShutdownDeadline],
  exports: [Clock, ShutdownDeadline],
})
export class CommonModule {}
