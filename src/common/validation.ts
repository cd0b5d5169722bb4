import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

/**
 * Flattens nested class-validator errors into `field: problem` strings that name the field. A
 * field that was not sent at all fails every rule of a required field ("must be shorter than 10
 * characters; must be a string"); it is named as missing instead, with that one message.
 * (class-validator skips the rules of an `@IsOptional` field that is absent, so any rule failing
 * on an absent value means the field is required.)
 */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const children = describeValidationErrors(error.children ?? [], path);
    if (error.value === undefined && Object.keys(error.constraints ?? {}).length > 0)
      return [`${path} is required`, ...children];
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${parent ? parent + '.' : ''}${text}` : `${path}: ${text}`,
    );
    return [...own, ...children];
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
