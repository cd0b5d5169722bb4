import type { Document } from 'bson';

/** Server error codes the store reports; names and numbers match MongoDB's error_codes.yml. */
export const ErrorCodes = {
  InternalError: 1,
  BadValue: 2,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  DuplicateKey: 11000,
  Location40485: 40485,
} as const;

type CodeName = keyof typeof ErrorCodes;

const namesByCode = new Map<number, string>(
  Object.entries(ErrorCodes).map(([name, code]) => [code, name] as [number, string]),
);

export function codeNameOf(code: number): string {
  return namesByCode.get(code) ?? 'UnknownError';
}

/** An error that becomes an `{ ok: 0, errmsg, code, codeName }` reply instead of crashing the connection. */
export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly extra: Document;

  constructor(codeName: CodeName, message: string, extra: Document = {}) {
    super(message);
    this.code = ErrorCodes[codeName];
    this.codeName = codeName;
    this.extra = extra;
  }
}

/** Turns anything thrown while executing a command into an error reply. */
export function toErrorReply(error: unknown): Document {
  if (error instanceof CommandError) {
    return { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName, ...error.extra };
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = codeForEngineMessage(message);
  return { ok: 0, errmsg: message, code, codeName: codeNameOf(code) };
}

/** mingo throws plain Errors; map its messages onto the codes MongoDB uses for the same faults. */
function codeForEngineMessage(message: string): number {
  if (/immutable field/i.test(message)) return ErrorCodes.ImmutableField;
  if (/update operator|modifier/i.test(message)) return ErrorCodes.FailedToParse;
  if (/unknown|unregistered|not supported|invalid|must|cannot|expected/i.test(message)) return ErrorCodes.BadValue;
  return ErrorCodes.InternalError;
}
