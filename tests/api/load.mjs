// Load test for `locus serve` (plain fetch, loopback only): N concurrent clients for D seconds, each sending one
// request after another, mixed over /api/chat, /api/generate and /v1/chat/completions, streamed and not, some
// streams abandoned mid-way (AbortController). Every request is accounted for: completed (and well-formed:
// NDJSON ending in done:true, SSE ending in a finish chunk and [DONE], JSON with the expected shape), aborted by
// us, refused (503 with Retry-After; reported apart), or an error. Fails on any error, on requests lost, and
// when the server's RSS grew more than --rss-growth (default 20%) between 25% of the run and its end.
//
//   node load.mjs --base http://127.0.0.1:PORT --pid SERVER_PID --model M [--clients 16] [--seconds 120]
//                 [--rss-growth 0.2] [--seed 1]
//
// Prints requests/s, p50/p95 time to first token (streams), the counts and the RSS samples.
import fs from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const k of ['base', 'pid', 'model']) {
  if (!args[k]) {
    console.error(`missing --${k}`);
    process.exit(2);
  }
}
const base = args.base;
const model = args.model;
const clients = Number(args.clients ?? 16);
const seconds = Number(args.seconds ?? 120);
const maxGrowth = Number(args['rss-growth'] ?? 0.2);
// A request that takes longer than this is an error (the run stays bounded even if the server hangs).
const requestTimeoutMs = 60_000;

// A small deterministic generator, so a failing mix can be replayed with the same --seed.
let state = BigInt(args.seed ?? 1) * 0x9e3779b97f4a7c15n;
function rand() {
  state = (state * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
  return Number(state >> 11n) / 2 ** 53;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

function rssKiB() {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${args.pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const counts = { issued: 0, completed: 0, aborted: 0, refused: 0, errors: 0 };
const ttft = [];
const errorSamples = [];
function error(what) {
  counts.errors++;
  if (errorSamples.length < 10) errorSamples.push(what);
}

const kinds = ['ollama_chat', 'ollama_generate', 'openai_chat'];
function body(kind, stream, n) {
  const seed = Math.floor(rand() * 1e6);
  const text = pick(['Hello', 'Tell me a story.', 'What is 2+2?', 'List three colors.']);
  if (kind === 'ollama_chat') {
    return { model, stream, messages: [{ role: 'user', content: text }], options: { num_predict: n, seed } };
  }
  if (kind === 'ollama_generate') return { model, stream, prompt: text, options: { num_predict: n, seed } };
  return { model, stream, messages: [{ role: 'user', content: text }], max_tokens: n, seed,
           ...(stream && rand() < 0.5 ? { stream_options: { include_usage: true } } : {}) };
}
const paths = { ollama_chat: '/api/chat', ollama_generate: '/api/generate', openai_chat: '/v1/chat/completions' };

// Checks a whole streamed body; returns a reason when it is malformed or did not end properly.
function streamProblem(kind, text) {
  if (kind !== 'openai_chat') {
    const lines = text.split('\n').filter((l) => l.length);
    if (!lines.length) return 'empty NDJSON stream';
    for (const l of lines) {
      let j;
      try {
        j = JSON.parse(l);
      } catch {
        return `not JSON: ${l.slice(0, 80)}`;
      }
      if (j.error) return `error line: ${j.error}`;
    }
    const last = JSON.parse(lines.at(-1));
    return last.done === true ? null : `last line not done:true: ${lines.at(-1).slice(0, 120)}`;
  }
  const events = text.split('\n\n').filter((e) => e.length && !e.startsWith(':'));
  if (events.at(-1) !== 'data: [DONE]') return `no [DONE] at the end: ${JSON.stringify(events.at(-1))?.slice(0, 120)}`;
  let finished = false;
  for (const e of events.slice(0, -1)) {
    if (!e.startsWith('data: ')) return `not an SSE data event: ${e.slice(0, 80)}`;
    let j;
    try {
      j = JSON.parse(e.slice(6));
    } catch {
      return `SSE data not JSON: ${e.slice(0, 80)}`;
    }
    if (j.error) return `error event: ${JSON.stringify(j.error)}`;
    if (j.choices?.[0]?.finish_reason) finished = true;
  }
  return finished ? null : 'no finish_reason chunk';
}

function jsonProblem(kind, j) {
  if (kind === 'openai_chat') return j.object === 'chat.completion' && j.choices?.[0]?.finish_reason ? null : 'bad chat.completion';
  return j.done === true ? null : 'non-streamed answer without done:true';
}

async function one() {
  const kind = pick(kinds);
  const stream = rand() < 0.75;
  const abortAfter = stream && rand() < 0.15 ? 1 + Math.floor(rand() * 4) : 0;  // chunks before giving up
  const n = 8 + Math.floor(rand() * 56);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), requestTimeoutMs);
  counts.issued++;
  const t0 = performance.now();
  try {
    const res = await fetch(base + paths[kind], {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body(kind, stream, n)),
      signal: controller.signal,
    });
    if (res.status === 503 && res.headers.get('retry-after')) {
      counts.refused++;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, Math.min(1000, Number(res.headers.get('retry-after')) * 1000)));
      return;
    }
    if (res.status !== 200) return error(`${kind} HTTP ${res.status}: ${(await res.text()).slice(0, 160)}`);
    if (!stream) {
      const j = await res.json();
      const p = jsonProblem(kind, j);
      return p ? error(`${kind}: ${p}`) : void counts.completed++;
    }
    const decoder = new TextDecoder();
    let text = '';
    let chunks = 0;
    for await (const bytes of res.body) {
      if (chunks++ === 0) ttft.push(performance.now() - t0);
      text += decoder.decode(bytes, { stream: true });
      if (abortAfter && chunks >= abortAfter) {
        controller.abort(new Error('client gave up'));
        counts.aborted++;
        return;
      }
    }
    const p = streamProblem(kind, text);
    return p ? error(`${kind} stream: ${p}`) : void counts.completed++;
  } catch (e) {
    if (controller.signal.aborted && controller.signal.reason?.message === 'client gave up') return;
    error(`${kind}: ${e?.cause?.message ?? e?.message ?? e}`);
  } finally {
    clearTimeout(timer);
  }
}

const t_start = performance.now();
const deadline = t_start + seconds * 1000;
let rssQuarter = NaN;
const quarter = setTimeout(() => {
  rssQuarter = rssKiB();
}, seconds * 250);
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (performance.now() < deadline) await one();
  }),
);
clearTimeout(quarter);
const elapsed = (performance.now() - t_start) / 1000;
const rssEnd = rssKiB();

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const accounted = counts.completed + counts.aborted + counts.refused + counts.errors;
console.log(`clients ${clients}, ${elapsed.toFixed(1)} s: ${counts.issued} requests, ` +
            `${(counts.issued / elapsed).toFixed(2)} requests/s`);
console.log(`completed ${counts.completed}, aborted by the client ${counts.aborted}, refused (503) ${counts.refused}, ` +
            `errors ${counts.errors}`);
console.log(`time to first token (streams, ${ttft.length}): p50 ${pct(ttft, 50).toFixed(0)} ms, ` +
            `p95 ${pct(ttft, 95).toFixed(0)} ms`);
const growth = (rssEnd - rssQuarter) / rssQuarter;
console.log(`server RSS: ${(rssQuarter / 1024).toFixed(1)} MiB at 25%, ${(rssEnd / 1024).toFixed(1)} MiB at the end ` +
            `(${(growth * 100).toFixed(1)}%)`);
for (const s of errorSamples) console.log(`  error: ${s}`);

let failed = false;
const verdict = (good, what) => {
  console.log(`${good ? 'ok  ' : 'FAIL'} ${what}`);
  failed ||= !good;
};
verdict(counts.errors === 0, 'no errors');
verdict(accounted === counts.issued, `every request accounted for (${accounted} of ${counts.issued})`);
verdict(counts.completed > 0, 'requests completed');
verdict(Number.isFinite(growth) && growth <= maxGrowth, `RSS growth after warm-up within ${maxGrowth * 100}%`);
process.exit(failed ? 1 : 0);
