/** Messages between EmbeddedMongo's listener (main thread) and the engine in worker.ts. */
export type WorkerRequest =
  | { type: 'compact' | 'expire' | 'stop'; id: number }
  | { type: 'message'; id: number; raw: Uint8Array; connectionId: number; clientAddress: string };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'done'; id: number; error?: string }
  | { type: 'answer'; id: number; reply?: Uint8Array; close?: string };
