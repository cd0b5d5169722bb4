import { createServer } from 'node:http';

/**
 * The ceiling for a Node HTTP server on this machine: read the body, JSON.parse it, answer 202
 * with a small JSON body like Siteline's. Any GET answers 200 (readiness probe).
 */
const port = Number(process.argv[2]);
createServer((request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(200).end('ok');
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let accepted: number;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { hits?: unknown[] };
      accepted = Array.isArray(body.hits) ? body.hits.length : 1;
    } catch {
      response.writeHead(400).end();
      return;
    }
    response
      .writeHead(202, { 'content-type': 'application/json; charset=utf-8' })
      .end(JSON.stringify({ accepted, duplicates: 0, rejected: [] }));
  });
}).listen(port, '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
