import { HttpStatus, UnauthorizedException } from '@nestjs/common';

/** 401 for a request without any credential (RFC 6750 §3: a bare challenge, no error code). */
export function missingCredentials(): UnauthorizedException {
  return new UnauthorizedException({
    statusCode: HttpStatus.UNAUTHORIZED,
    message: 'Missing credentials: send Authorization: Bearer <token> or a site key',
    headers: { 'WWW-Authenticate': 'Bearer' },
  });
}

/** 401 for a credential that was presented but is not valid (bad signature, expired, revoked, …). */
export function invalidToken(message = 'Invalid or expired token'): UnauthorizedException {
  return new UnauthorizedException({
    statusCode: HttpStatus.UNAUTHORIZED,
    message,
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });
}
