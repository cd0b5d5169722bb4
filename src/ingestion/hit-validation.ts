import { plainToInstance, type ClassConstructor } from 'class-transformer';
import {
  getMetadataStorage,
  isBoolean,
  isInt,
  isIP,
  isISO8601,
  max,
  maxLength,
  min,
  validateSync,
  type ValidatorOptions,
} from 'class-validator';
import { describeValidationErrors } from '../common/validation.js';
import { flatPropsProblem } from './dto/flat-props.validator.js';
import { HitDto } from './dto/hit.dto.js';
import { revenueProblem } from './dto/revenue.validator.js';

const STRICT: ValidatorOptions = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };

/**
 * Validates one item against its DTO with class-validator, the same rules the global
 * ValidationPipe applies, but per item: a batch keeps its valid hits and reports each invalid
 * one by index, and the hot path skips the pipe's per-request overhead. Returns the DTO or an
 * error message naming the offending field(s).
 *
 * In an ingest item `null` means "no value": an optional field (`@IsOptional()`, which lets
 * `null` through) sent as `null` is left out of the DTO, exactly as if it had not been sent, so
 * no consumer ever sees a `null` its type does not declare (`{ "referrer": null }` is a hit
 * without a referrer, `{ "userId": null }` one without a user, not the user "null"). A required
 * field's rules refuse `null` themselves.
 */
export function validateItem<T extends object>(dto: ClassConstructor<T>, raw: unknown): T | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'hit must be a JSON object';
  const instance = plainToInstance(dto, raw);
  const errors = validateSync(instance, STRICT);
  if (errors.length > 0) return describeValidationErrors(errors).join('; ');
  const fields = instance as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (fields[key] === null) delete fields[key];
  return instance;
}

/** One decorator's metadata (class-validator does not export the type from its entry point). */
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/** A check equivalent to one class-validator decorator on a present, non-null value. */
type ValueCheck = (value: unknown) => boolean;

/**
 * The decorators the fast path can check itself, by class-validator's metadata name, each with
 * the same validator function the decorator calls and the decorator's own constraints.
 */
const KNOWN_CHECKS: Record<string, (constraints: unknown[]) => ValueCheck> = {
  isString: () => (value) => typeof value === 'string',
  isNotEmpty: () => (value) => value !== '',
  maxLength:
    ([max]) =>
    (value) =>
      typeof value === 'string' && maxLength(value, max as number),
  isIp:
    ([version]) =>
    (value) =>
      typeof value === 'string' && isIP(value, version as 4 | 6 | undefined),
  isIso8601:
    ([options]) =>
    (value) =>
      typeof value === 'string' && isISO8601(value, options as Parameters<typeof isISO8601>[1]),
  isFlatProps: () => (value) => flatPropsProblem(value) === null,
  isRevenue: () => (value) => revenueProblem(value) === null,
  isBoolean: () => (value) => isBoolean(value),
  isInt: () => (value) => isInt(value),
  min:
    ([bound]) =>
    (value) =>
      min(value, bound as number),
  max:
    ([bound]) =>
    (value) =>
      max(value, bound as number),
};

interface FieldRule {
  required: boolean;
  checks: ValueCheck[];
}

/**
 * HitDto's fields and rules, read from the decorators' metadata, so limits are declared once (on
 * the DTO). A field with any decorator not in KNOWN_CHECKS gets no rule: a hit carrying it takes
 * the full path. A Map, so keys such as `constructor` find nothing.
 */
function fastPathRules(): Map<string, FieldRule> {
  const byField = new Map<string, ValidationMetadata[]>();
  for (const metadata of getMetadataStorage().getTargetValidationMetadatas(HitDto, '', true, false)) {
    byField.set(metadata.propertyName, [...(byField.get(metadata.propertyName) ?? []), metadata]);
  }
  const rules = new Map<string, FieldRule>();
  for (const [field, metadatas] of byField) {
    let required = true;
    const checks: ValueCheck[] = [];
    let known = true;
    for (const metadata of metadatas) {
      if (metadata.each || metadata.groups?.length) known = false;
      else if (metadata.type === 'conditionalValidation' && metadata.name === 'isOptional') required = false;
      else if (metadata.type === 'customValidation' && metadata.name && KNOWN_CHECKS[metadata.name]) {
        checks.push(KNOWN_CHECKS[metadata.name](metadata.constraints ?? []));
      } else known = false;
    }
    if (known) rules.set(field, { required, checks });
  }
  return rules;
}

const HIT_RULES = fastPathRules();

/** The HitDto fields the fast path checks itself (a test keeps this equal to every field). */
export const HIT_FAST_PATH_FIELDS = [...HIT_RULES.keys()];

/**
 * Whether `raw` is a hit every HitDto rule accepts, checked with the same validator functions
 * its decorators call. It only ever says yes to hits class-validator accepts; anything unusual
 * (a null, a wrong type, an unknown key, an over-long value) answers no and takes the full path.
 */
function isWellFormedHit(raw: object): boolean {
  const fields = raw as Record<string, unknown>;
  for (const [field, rule] of HIT_RULES) if (rule.required && fields[field] === undefined) return false;
  for (const key of Object.keys(fields)) {
    const rule = HIT_RULES.get(key);
    const value = fields[key];
    // null/undefined is what @IsOptional skips: leave that case to class-validator (and
    // validateItem, which drops the null).
    if (!rule || value === null || value === undefined) return false;
    for (const check of rule.checks) if (!check(value)) return false;
  }
  return true;
}

/**
 * `validateItem(HitDto, raw)` for the hot path: a well-formed hit (nearly all of them) is
 * checked field by field in about a microsecond, where class-transformer and class-validator
 * take ~20 µs per hit (a tenth of a core at 4,000 hits/s). Any other input gets exactly
 * class-validator's verdict and messages.
 */
export function validateHit(raw: unknown): HitDto | string {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && isWellFormedHit(raw)) return raw as HitDto;
  return validateItem(HitDto, raw);
}

/** The field a validation message names, as a low-cardinality metrics label. */
export function rejectionReason(error: string): string {
  const match = /^([A-Za-z_$][\w.$]*)/.exec(error);
  return match ? match[1].split('.')[0].slice(0, 32) : 'invalid';
}
