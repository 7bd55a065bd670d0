'use strict';
// Redis' side of speezy's queue alone: the scripts of host/queue run straight from the source
// tree (common.lua + the script, as host/queue.c joins them), driven the way the host drives
// them but without it, so a change to a script is measured without a build and without the
// host's own CPU in the way. `BENCH_QUEUE_STEPS=scripts spec/bench/queue.sh` runs it.
//
//   node queue_scripts.js REDIS_URL JOBS
//
// For each way of calling it prints Redis' CPU µs and commands per job (INFO deltas):
//   add xK        add.lua with K jobs per call, 50 calls in flight (K=1: what queue.add does)
//   reserve       reserve.lua as one consumer calls it: up to 50 jobs taken per call, the
//                 previous call's jobs completed in the same call (removeOnComplete = true)
// Runs with the ioredis that BullMQ's install brought (spec/bench/node/bullmq).
const fs = require('fs');
const path = require('path');
const IORedis = require(path.join(__dirname, 'node/bullmq/node_modules/ioredis'));

const [url, jobsArg] = process.argv.slice(2);
const JOBS = Number(jobsArg || 50000);
const QDIR = path.join(__dirname, '../../host/queue');
const KEYS = ['sq:', 'sq:q:bench.scripts:'];
const redis = new IORedis(url);

function text(name) {
  const common = fs.readFileSync(path.join(QDIR, 'common.lua'), 'utf8');
  return common + '\n' + fs.readFileSync(path.join(QDIR, `${name}.lua`), 'utf8');
}

// Redis' CPU seconds and commands run so far (INFO left out).
async function stats() {
  const info = await redis.info('all');
  let cpu = 0;
  let calls = 0;
  for (const line of info.split('\r\n')) {
    const [k, v] = line.split(':');
    if (k === 'used_cpu_sys' || k === 'used_cpu_user') cpu += Number(v);
    if (k.startsWith('cmdstat_') && k !== 'cmdstat_info') calls += Number(/calls=(\d+)/.exec(v)[1]);
  }
  return { cpu, calls };
}

function report(what, before, after, jobs) {
  const us = ((after.cpu - before.cpu) * 1e6) / jobs;
  const cmds = (after.calls - before.calls) / jobs;
  process.stdout.write(`${what.padEnd(10)} ${jobs} jobs: ${us.toFixed(1)} µs Redis CPU/job, ` +
    `${cmds.toFixed(1)} commands/job\n`);
}

// add.lua's values as speezy/queue.lua builds them with removeOnComplete = true: the 10 a call's
// jobs share, then jobId and data per job.
function shared() {
  return ['bench.scripts', String(Date.now()), '0', '0', '1', '0', '', '-1:0', '', '0'];
}

function job(i) {
  return ['', `{"i":${i}}`];
}

async function add(sha, perCall) {
  let next = 0;
  async function loop() {
    while (next < JOBS) {
      const args = shared();
      for (let k = 0; k < perCall && next < JOBS; k++) args.push(...job(++next));
      await redis.evalsha(sha, 2, ...KEYS, ...args);
    }
  }
  await Promise.all(Array.from({ length: 50 }, loop));
}

async function reserve(sha) {
  let done = [];
  let ran = 0;
  for (;;) {
    const argv = [String(Date.now()), '50', '30000', 'bench', '0', '0', String(done.length / 3)];
    const reply = await redis.evalsha(sha, 2, ...KEYS, ...argv, ...done);
    done = [];
    for (let i = 3 + Number(reply[2]); i + 5 < reply.length; i += 6) {
      done.push(String(reply[i]), `bench:${reply[i + 2]}`, 'true');
      ran++;
    }
    if (done.length === 0) return ran;
  }
}

async function main() {
  const addSha = await redis.script('LOAD', text('add'));
  const reserveSha = await redis.script('LOAD', text('reserve'));
  for (const perCall of [1, 10, 50]) {
    await redis.flushall();
    const before = await stats();
    await add(addSha, perCall);
    report(`add x${perCall}`, before, await stats(), JOBS);
  }
  const before = await stats();
  const ran = await reserve(reserveSha);
  report('reserve', before, await stats(), ran);
  if (ran !== JOBS) throw new Error(`reserve ran ${ran} jobs, not ${JOBS}`);
  await redis.flushall();
  redis.disconnect();
}

main().catch((err) => {
  process.stderr.write(`queue_scripts.js: ${err.stack || err}\n`);
  process.exit(1);
});
