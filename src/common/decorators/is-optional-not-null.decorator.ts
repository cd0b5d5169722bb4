import { ValidateIf, type ValidationOptions } from 'class-validator';

/**
 * `@IsOptional()` for JSON bodies where `null` is not a value: the field may be left out, but
 * when it is sent, `null` included, every other decorator on it applies, so `{ "domain": null }`
 * gets the field's own 400 message ("domain must be a string") instead of passing validation as
 * if it were absent and reaching a service that expects a string. `@IsOptional()` skips `null`
 * too; use it only where `null` is meant to count as absent (the ingest items).
 */
export function IsOptionalNotNull(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined, options);
}
