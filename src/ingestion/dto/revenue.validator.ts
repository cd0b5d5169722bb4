import { registerDecorator, type ValidationOptions } from 'class-validator';

/** Revenue as a client sends it: an ISO 4217 code and an amount (a number or a numeric string). */
export interface RevenueInput {
  currency: string;
  amount: number | string;
}

const CURRENCY = /^[A-Za-z]{3}$/;
/** A decimal number as text, e.g. "12.50" or "-3" (refunds); no exponent, no thousands separators. */
const NUMERIC_TEXT = /^-?\d{1,15}(\.\d{1,10})?$/;

/** The amount as a number, or null when it is neither a finite number nor a numeric string. */
export function revenueAmount(amount: unknown): number | null {
  if (typeof amount === 'number') return Number.isFinite(amount) ? amount : null;
  if (typeof amount === 'string' && NUMERIC_TEXT.test(amount.trim())) return Number(amount.trim());
  return null;
}

/** Why `value` is not a valid `revenue` object, or null when it is. */
export function revenueProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object { currency, amount }';
  }
  const keys = Object.keys(value);
  const extra = keys.find((key) => key !== 'currency' && key !== 'amount');
  if (extra !== undefined) return `property ${extra.slice(0, 32)} should not exist (only currency and amount)`;
  const { currency, amount } = value as Record<string, unknown>;
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    return 'currency must be a 3-letter ISO 4217 code such as EUR';
  }
  if (revenueAmount(amount) === null) return 'amount must be a finite number or a numeric string such as "12.50"';
  return null;
}

/** class-validator rule for `revenue`: `{ currency: "EUR", amount: 12.5 | "12.5" }`. */
export function IsRevenue(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isRevenue',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => revenueProblem(value) === null,
        defaultMessage: (args) => `${args?.property ?? 'revenue'}: ${revenueProblem(args?.value) ?? 'is invalid'}`,
      },
    });
}
