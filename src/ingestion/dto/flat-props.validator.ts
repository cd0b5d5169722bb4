import { registerDecorator, type ValidationOptions } from 'class-validator';

export const MAX_PROPS = 30;
export const MAX_PROP_VALUE_LENGTH = 256;
const MAX_PROP_KEY_LENGTH = 64;

/** Why `value` is not a valid `props` object (at most 30 keys, string, number or boolean values), or null when it is. */
export function flatPropsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a flat JSON object';
  const entries = Object.entries(value);
  if (entries.length > MAX_PROPS) return `must have at most ${MAX_PROPS} keys`;
  for (const [key, item] of entries) {
    // `$` and `.` in keys would be read as operators or paths by MongoDB queries over props.
    if (key === '' || key.length > MAX_PROP_KEY_LENGTH || key.startsWith('$') || key.includes('.')) {
      return `key "${key.slice(0, MAX_PROP_KEY_LENGTH)}" must be 1–${MAX_PROP_KEY_LENGTH} characters, not start with $ and not contain .`;
    }
    if (typeof item === 'string') {
      if (item.length > MAX_PROP_VALUE_LENGTH) return `${key} must be at most ${MAX_PROP_VALUE_LENGTH} characters`;
    } else if (typeof item === 'number') {
      if (!Number.isFinite(item)) return `${key} must be a finite number`;
    } else if (typeof item !== 'boolean') {
      return `${key} must be a string, number or boolean`;
    }
  }
  return null;
}

/** class-validator rule for `props`: a flat object of at most 30 short scalar values. */
export function IsFlatProps(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isFlatProps',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => flatPropsProblem(value) === null,
        defaultMessage: (args) => `${args?.property ?? 'props'}: ${flatPropsProblem(args?.value) ?? 'is invalid'}`,
      },
    });
}
