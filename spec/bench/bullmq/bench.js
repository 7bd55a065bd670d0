'use strict';
// The BullMQ side of the job-queue bench (spec/bench/queue.sh), the same work as
// spec/bench/scripts/queue/app.lua: one process, one phase.
//
//   node bench.js REDIS_URL add N CLIENTS      N jobs added by CLIENTS loops, each awaiting its
//                                              add before the next (as CLIENTS HTTP requests do)
//   node bench.js REDIS_URL process N          one Worker (concurrency 50) runs the N jobs the
//                                              add phase left waiting
//   node bench.js REDIS_URL mixed N CLIENTS    adding and processing at once
//   node bench.js REDIS_URL latency N GAP_MS   N lone jobs, GAP_MS apart: queue.add -> handler
//
// It prints "ready" once connected and starts the phase on a line "go" on stdin, so the caller
// reads this process' and Redis' CPU right around the phase (never the start-up or the end).
// At the end it prints one line "jobs=N seconds=S" (process and mixed: drained=0|1 failed=N;
// latency: p50_us= p99_us= max_us= mean_us=)
// and closes its connections once stdin ends.
const { Queue, Worker } = require('bullmq');
const readline = require('readline');

const [url, phase, a1, a2] = process.argv.slice(2);
const QUEUE = 'bench';
const CONCURRENCY = 50;
const JOB_OPTS = { removeOnComplete: true };

function connection() {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
  };
}

// Wall-clock ms with µs in the fraction, as speezy's core.now() (seconds) gives it.
function nowMs() {
  return performance.timeOrigin + performance.now();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const latencies = [];
async function noop(job) {
  const t = job.data.t;
  if (t !== undefined) latencies.push((nowMs() - t) * 1000);
  return true;
}

function newWorker() {
  return new Worker(QUEUE, noop, {
    connection: connection(),
    concurrency: CONCURRENCY,
    autorun: false,
  });
}

async function addAll(queue, n, clients) {
  let next = 0;
  async function loop() {
    while (next < n) {
      next++;
      await queue.add('noop', { i: next }, JOB_OPTS);
    }
  }
  await Promise.all(Array.from({ length: clients }, loop));
}

// Until nothing waits or runs: removeOnComplete leaves no completed set to count.
async function drained(queue, deadline) {
  for (;;) {
    const c = await queue.getJobCounts('wait', 'active', 'prioritized', 'delayed', 'paused');
    if (c.wait + c.active + c.prioritized + c.delayed + c.paused === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)];
}

// Resolves on the line "go"; `ended` on the end of stdin.
const stdin = readline.createInterface({ input: process.stdin });
const go = new Promise((resolve) => {
  stdin.on('line', (line) => {
    if (line.trim() === 'go') resolve();
  });
});
const ended = new Promise((resolve) => stdin.on('close', resolve));

async function main() {
  const queue = new Queue(QUEUE, { connection: connection() });
  await queue.waitUntilReady();
  let worker = null;
  if (phase !== 'add') {
    worker = newWorker();
    await worker.waitUntilReady();
  }
  // Scripts are loaded on first use: one add outside the measure, then gone again.
  if (phase !== 'process') {
    const job = await queue.add('warm-up', {}, JOB_OPTS);
    await job.remove();
  }
  const deadline = Date.now() + 1000 * Number(process.env.BENCH_QUEUE_TIMEOUT || 120);
  process.stdout.write('ready\n');
  await go;
  const t0 = performance.now();
  let t1 = null;
  const out = {};
  if (phase === 'add') {
    await addAll(queue, Number(a1), Number(a2));
    out.jobs = Number(a1);
  } else if (phase === 'process' || phase === 'mixed') {
    worker.run();
    if (phase === 'mixed') await addAll(queue, Number(a1), Number(a2));
    out.drained = (await drained(queue, deadline)) ? 1 : 0;
    t1 = performance.now();
    out.failed = (await queue.getJobCounts('failed')).failed;
    out.jobs = Number(a1);
  } else if (phase === 'latency') {
    worker.run();
    await sleep(200); // the Worker is waiting on Redis before the first job comes
    for (let i = 0; i < Number(a1); i++) {
      await queue.add('noop', { t: nowMs() }, JOB_OPTS);
      await sleep(Number(a2));
    }
    while (latencies.length < Number(a1) && Date.now() < deadline) await sleep(10);
    const s = latencies.slice().sort((x, y) => x - y);
    out.jobs = s.length;
    out.p50_us = percentile(s, 0.5);
    out.p99_us = percentile(s, 0.99);
    out.max_us = s[s.length - 1];
    out.mean_us = s.reduce((x, y) => x + y, 0) / s.length;
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
  out.seconds = (((t1 ?? performance.now()) - t0) / 1000).toFixed(3);
  const fmt = (v) => (typeof v === 'number' ? v.toFixed(0) : v);
  process.stdout.write(Object.entries(out).map(([k, v]) => `${k}=${fmt(v)}`).join(' ') + '\n');
  await ended;
  if (worker) await worker.close(true);
  await queue.close();
}

main().catch((err) => {
  process.stderr.write(`bench.js: ${err.stack || err}\n`);
  process.exit(1);
});
