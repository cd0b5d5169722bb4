// node libs/embedded-mongo/bench/worker-round-trip.mjs [messages] [work µs] [--cpu-prof …]
//
// What a message costs to cross the store's worker boundary, as the listener and engine cross it:
// the main thread posts a copied, transferred message buffer in an object wrapper, the worker
// spends `work` µs of CPU on it (0: none) and posts a transferred reply back, one message in
// flight at a time (as a replay sends them). Prints the process's CPU per message beyond the
// work itself, and each thread's time on a CPU and time runnable but waiting for one
// (/proc/self/task/*/schedstat): with `--cpu-prof`, compare the profile's `postMessage` share
// with these.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const MESSAGE_BYTES = 14_000;
const REPLY_BYTES = 300;

function threadTimes() {
  const times = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    const [onCpu, waiting] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    times.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), onCpu, waiting });
  }
  return times;
}

if (isMainThread) {
  const messages = Number(process.argv[2] ?? 5000);
  const workMicros = Number(process.argv[3] ?? 0);
  const worker = new Worker(new URL(import.meta.url), { workerData: { workMicros } });
  await new Promise((resolve) => worker.once('message', resolve));
  const before = threadTimes();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => {
    let answered = 0;
    const send = () => {
      const copy = new Uint8Array(MESSAGE_BYTES);
      worker.postMessage({ type: 'message', id: answered, raw: copy, connectionId: 1, clientAddress: '' }, [
        copy.buffer,
      ]);
    };
    worker.on('message', () => (++answered < messages ? send() : resolve()));
    send();
  });
  const cpu = process.cpuUsage(cpuBefore);
  const after = threadTimes();
  const perMessage = (cpu.user + cpu.system) / messages;
  console.log(
    `${messages} messages, ${workMicros} µs of work each, in ${Math.round(performance.now() - started)} ms: ` +
      `process CPU ${perMessage.toFixed(0)} µs per message (${(perMessage - workMicros).toFixed(0)} beyond the work; ` +
      `user ${(cpu.user / messages).toFixed(0)}, system ${(cpu.system / messages).toFixed(0)})`,
  );
  for (const [tid, time] of after) {
    const was = before.get(tid);
    if (!was) continue;
    const onCpu = (time.onCpu - was.onCpu) / 1e6;
    const waiting = (time.waiting - was.waiting) / 1e6;
    if (onCpu + waiting >= 10) {
      console.log(
        `  thread ${tid} (${time.name}): ${onCpu.toFixed(0)} ms on a CPU, ${waiting.toFixed(0)} ms runnable but waiting`,
      );
    }
  }
  await worker.terminate();
} else {
  const { workMicros } = workerData;
  let sink = 0;
  parentPort.postMessage('ready');
  parentPort.on('message', (request) => {
    const until = performance.now() + workMicros / 1000;
    while (performance.now() < until) sink += Math.sqrt(sink + 1);
    const reply = new Uint8Array(REPLY_BYTES);
    parentPort.postMessage({ type: 'answer', id: request.id, reply }, [reply.buffer]);
  });
}
