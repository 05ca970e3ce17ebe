// Aggregate generation speed of an HTTP server with 1 and N concurrent streams (used by serve_parallel.sh).
//   node serve_parallel.mjs --url http://127.0.0.1:PORT --api ollama|llama --model NAME --streams 1,4 --tokens 64
// Each stream asks for exactly --tokens tokens from a short prompt (different per stream) and reads the answer as
// it streams. For one round of N streams started together it prints, as JSON: per-stream tokens and decode rate
// (tokens after the first over the time since the first); the steady aggregate rate, counting the pieces of all
// streams that arrived while every stream was generating (from the last stream's first piece to the first
// stream's last piece), converted to tokens with each stream's tokens per piece: what batching is about; the
// whole-round rate (all tokens over the round, prompts included); and each stream's time to first token.
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" }, api: { type: "string", default: "ollama" }, model: { type: "string", default: "" },
    streams: { type: "string", default: "1,4" }, tokens: { type: "string", default: "64" },
    reps: { type: "string", default: "1" },
  },
});
const tokens = +opt.tokens;

async function* lines(body) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

async function one(k) {
  const prompt = `Stream ${k}: write a long story about the number ${k * 7 + 3}.`;
  const t0 = performance.now();
  let first = 0, count = 0, end = 0;
  const times = [];
  let res;
  if (opt.api === "ollama") {
    res = await fetch(`${opt.url}/api/generate`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: opt.model, prompt, raw: true, stream: true,
                             options: { num_predict: tokens, temperature: 0.8, seed: k, repeat_last_n: 0 } }),
    });
  } else {
    res = await fetch(`${opt.url}/completion`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt, n_predict: tokens, stream: true, temperature: 0.8, seed: k, ignore_eos: true,
                             cache_prompt: false }),
    });
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  for await (let line of lines(res.body)) {
    if (line.startsWith("data: ")) line = line.slice(6);
    const j = JSON.parse(line);
    if (j.error) throw new Error(JSON.stringify(j.error));
    const piece = opt.api === "ollama" ? (j.done ? null : j.response) : (j.stop ? null : j.content);
    if (piece !== null && piece !== undefined) {
      const now = performance.now();
      if (count === 0) first = now;
      times.push(now);
      count++;
    }
    if (opt.api === "ollama" && j.done) count = j.eval_count;        // exact token count from the server
    if (opt.api !== "ollama" && j.stop && j.timings) count = j.timings.predicted_n;
  }
  end = performance.now();
  // A streamed piece is a token's text, or several tokens' (an incomplete UTF-8 character waits for the next
  // token; text the server's parser holds back); tokens per piece converts piece counts to tokens.
  return { ttft_ms: first - t0, tokens: count, first, end, times, t0, per_piece: times.length ? count / times.length : 1,
           decode_tps: (count - 1) / ((end - first) / 1000) };
}

const out = [];
for (const n of opt.streams.split(",").map(Number)) {
  for (let r = 0; r < +opt.reps; r++) {
    const runs = await Promise.all(Array.from({ length: n }, (_, k) => one(k + 1 + r * 100)));
    // Steady window: every stream generating. Pieces are counted strictly after its start so that the rate is
    // (pieces) / (time they took).
    const w0 = Math.max(...runs.map((x) => x.first)), w1 = Math.min(...runs.map((x) => x.times.at(-1)));
    const steady = runs.reduce((a, x) => a + x.per_piece * x.times.filter((t) => t > w0 && t <= w1).length, 0);
    const round = (Math.max(...runs.map((x) => x.end)) - Math.min(...runs.map((x) => x.t0))) / 1000;
    const total = runs.reduce((a, x) => a + x.tokens, 0);
    out.push({ streams: n, aggregate_tps: w1 > w0 ? steady / ((w1 - w0) / 1000) : NaN, round_tps: total / round,
               per_stream_tps: runs.map((x) => +x.decode_tps.toFixed(3)),
               ttft_ms: runs.map((x) => Math.round(x.ttft_ms)), tokens: runs.map((x) => x.tokens) });
  }
}
console.log(JSON.stringify(out));
