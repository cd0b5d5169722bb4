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
  DollarPrefixedFieldName: 52,
  InvalidIdField: 53,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  InvalidPipelineOperator: 168,
  NotImplemented: 238,
  DuplicateKey: 11000,
  Location16020: 16020,
  Location17276: 17276,
  Location40324: 40324,
  Location40414: 40414,
  Location40415: 40415,
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
  const mapped = engineErrorAsMongo(message);
  if (mapped) return toErrorReply(mapped);
  const code = codeForEngineMessage(message);
  return { ok: 0, errmsg: message, code, codeName: codeNameOf(code) };
}

/**
 * Pipeline stages MongoDB 7.0 has and the store does not: refused as not implemented rather
 * than as unknown, so nobody mistakes the store's gap for a typo.
 */
const UNIMPLEMENTED_STAGES = new Set([
  '$changeStream',
  '$changeStreamSplitLargeEvent',
  '$collStats',
  '$currentOp',
  '$densify',
  '$documents',
  '$fill',
  '$geoNear',
  '$graphLookup',
  '$indexStats',
  '$listLocalSessions',
  '$listSampledQueries',
  '$listSearchIndexes',
  '$listSessions',
  '$planCacheStats',
  '$queryStats',
  '$search',
  '$searchMeta',
  '$shardedDataDistribution',
  '$vectorSearch',
]);

/**
 * mingo's messages for faults MongoDB reports with its own codes and wording: an unknown stage,
 * query operator or expression, and an undefined `$$variable`.
 */
function engineErrorAsMongo(message: string): CommandError | undefined {
  const stage = /unregistered pipeline operator (\$\w+)/.exec(message)?.[1];
  if (stage) {
    return UNIMPLEMENTED_STAGES.has(stage)
      ? new CommandError('NotImplemented', `${stage} is not implemented by the embedded store`)
      : new CommandError('Location40324', `Unrecognized pipeline stage name: '${stage}'`);
  }
  const queryOperator = /unknown (?:top level |query )?operator:? (\$\w+)/.exec(message)?.[1];
  if (queryOperator) return new CommandError('BadValue', `unknown operator: ${queryOperator}`);
  const expression = /accumulator '(\$\w+)' is not registered/.exec(message)?.[1];
  if (expression) return new CommandError('InvalidPipelineOperator', `Unrecognized expression '${expression}'`);
  const variable = /Use of undefined variable: (\S+)/.exec(message)?.[1];
  if (variable) return new CommandError('Location17276', `Use of undefined variable: ${variable}`);
  return undefined;
}

/** mingo throws plain Errors; map its messages onto the codes MongoDB uses for the same faults. */
function codeForEngineMessage(message: string): number {
  if (/immutable field/i.test(message)) return ErrorCodes.ImmutableField;
  if (/update operator|modifier/i.test(message)) return ErrorCodes.FailedToParse;
  if (/unknown|unregistered|not supported|invalid|must|cannot|expected/i.test(message)) return ErrorCodes.BadValue;
  return ErrorCodes.InternalError;
}
