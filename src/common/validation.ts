import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

/** Flattens nested class-validator errors into `field: problem` strings that name the field. */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${parent ? parent + '.' : ''}${text}` : `${path}: ${text}`,
    );
    return [...own, ...describeValidationErrors(error.children ?? [], path)];
  });
}

/**
 * Strict by default: unknown fields are rejected (not silently stripped), values are converted
 * to the DTO's types, and the 400 message names every offending field.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    exceptionFactory: (errors) => new BadRequestException(describeValidationErrors(errors).join('; ')),
  });
}
