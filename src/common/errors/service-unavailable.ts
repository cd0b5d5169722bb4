import { HttpException, HttpStatus } from '@nestjs/common';

/** 503 with `Retry-After` (the error filter copies `headers` onto the reply): come back later, nothing is wrong with the request. */
export function serviceUnavailable(message: string, retryAfterSeconds = 1): HttpException {
  return new HttpException(
    { statusCode: HttpStatus.SERVICE_UNAVAILABLE, message, headers: { 'Retry-After': String(retryAfterSeconds) } },
    HttpStatus.SERVICE_UNAVAILABLE,
  );
}
