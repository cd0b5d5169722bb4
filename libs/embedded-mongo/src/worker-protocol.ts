/** Messages between EmbeddedMongo (main thread) and worker.ts. */
export type WorkerRequest = { type: 'compact' | 'expire' | 'stop'; id: number };

export type WorkerReply =
  { type: 'ready'; port: number } | { type: 'failed'; error: string } | { type: 'done'; id: number; error?: string };
