import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'siteline:isPublic';

/** Opts a route out of the global default-deny guard (ingest, tracker, health, docs, login). */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
