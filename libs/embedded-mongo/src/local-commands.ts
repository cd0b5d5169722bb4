import { connectionCommands } from './commands/handshake.js';
import { commandOf, type ConnectionInfo, type Outcome } from './engine.js';
import { toErrorReply } from './errors.js';
import { encodeResponse, parseMessage, peekCommandName } from './wire.js';

/**
 * Answers handshake and heartbeat commands (hello, isMaster, ping, buildInfo, …) without the
 * engine; undefined for anything else. The worker-thread store calls this on the listener's
 * thread, so the driver's monitor is answered while the engine is busy with a long command:
 * a heartbeat that times out makes the driver interrupt every operation in flight.
 */
export function answerWithoutEngine(raw: Buffer, connection: ConnectionInfo): Outcome | undefined {
  const name = peekCommandName(raw);
  if (name === undefined || !Object.hasOwn(connectionCommands, name)) return undefined;
  const message = parseMessage(raw);
  if (message.kind === 'unsupported') return undefined;
  const { body } = commandOf(message);
  let reply;
  try {
    reply = connectionCommands[name](body, connection);
  } catch (error) {
    reply = toErrorReply(error);
  }
  return { reply: encodeResponse(message, reply) };
}
