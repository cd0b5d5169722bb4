import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidatorOptions } from 'class-validator';
import { describeValidationErrors } from '../common/validation.js';

const STRICT: ValidatorOptions = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };

/**
 * Validates one item against its DTO with class-validator, the same rules the global
 * ValidationPipe applies, but per item: a batch keeps its valid hits and reports each invalid
 * one by index, and the hot path skips the pipe's per-request overhead. Returns the DTO or an
 * error message naming the offending field(s).
 */
export function validateItem<T extends object>(dto: ClassConstructor<T>, raw: unknown): T | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'hit must be a JSON object';
  const instance = plainToInstance(dto, raw);
  const errors = validateSync(instance, STRICT);
  return errors.length > 0 ? describeValidationErrors(errors).join('; ') : instance;
}

/** The field a validation message names, as a low-cardinality metrics label. */
export function rejectionReason(error: string): string {
  const match = /^([A-Za-z_$][\w.$]*)/.exec(error);
  return match ? match[1].split('.')[0].slice(0, 32) : 'invalid';
}
