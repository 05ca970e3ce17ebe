// api-compat.md §2.10 with the real npm clients (ollama 0.6.4, openai 7.57.0, zod 4.6.7 from tools/node_modules)
// against a running `locus serve` on loopback, with a tiny random model. Every item that needs no media; a
// random model says nothing meaningful, so the checks are about shapes, endings and validation, and where the
// model has to call a tool the OpenAI API forces it (tool_choice).
//
//   node clients.mjs --base http://127.0.0.1:PORT --gguf M.gguf --modules tools/node_modules --pid SERVER_PID
//
// The registry for /api/pull and /api/push is served here, on loopback, from the GGUF's bytes. The last check sends the
// server SIGTERM mid-stream (the stream must end with an error the client surfaces), so run it last.
// Prints one ok/FAIL line per check; exits 1 on any FAIL.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const k of ['base', 'gguf', 'served', 'modules', 'pid', 'locus']) {
  if (!args[k]) {
    console.error(`missing --${k}`);
    process.exit(2);
  }
}
const mod = (p) => pathToFileURL(path.resolve(args.modules, p)).href;
const { Ollama } = await import(mod('ollama/dist/index.mjs'));
const { default: OpenAI } = await import(mod('openai/index.mjs'));
const { zodResponseFormat } = await import(mod('openai/helpers/zod.mjs'));
// The same module openai's helper imports ('zod/v4'), so that its schema checks recognise our objects.
const { z } = await import(mod('zod/v4/index.js'));

const base = args.base;
const gguf = path.resolve(args.gguf);
const served = args.served;  // the same GGUF, served by the server under this name (locus serve --model)
const ollama = new Ollama({ host: base });
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

let failures = 0;
function ok(name, detail = '') {
  console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
}
function fail(name, why) {
  failures++;
  console.log(`FAIL ${name}: ${why}`);
}
async function check(name, fn) {
  try {
    const detail = await fn();
    ok(name, typeof detail === 'string' ? detail : '');
  } catch (e) {
    fail(name, e?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(e));
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
// Runs fn, which must throw; returns the error.
async function rejects(fn, what) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected an error, got none`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const leaked = (s) => s.includes('<|channel>') || s.includes('<channel|>');
const norm = (v) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

const opts = (n, seed = 1) => ({ num_predict: n, seed, temperature: 0.8 });
const hello = [{ role: 'user', content: 'Hello' }];

// ---- the registry for /api/pull and /api/push, on loopback ----
const ggufBytes = fs.readFileSync(gguf);
const sha = (b) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');
const configBytes = Buffer.from(
  JSON.stringify({ model_format: 'gguf', model_family: 'gemma4', model_type: 'tiny', file_type: 'Q8_0' }),
);
const blobs = new Map([
  [sha(ggufBytes), ggufBytes],
  [sha(configBytes), configBytes],
]);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(configBytes), size: configBytes.length },
    layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: sha(ggufBytes), size: ggufBytes.length }],
  }),
);
// Repositories by "namespace/model": the one pulled from, and those that pushes upload into (the Docker
// distribution v2 upload protocol: HEAD a blob, POST blobs/uploads/ for a Location, PUT it ?digest=, then PUT
// the manifest).
const repos = new Map([['library/tiny', { manifests: new Map([['latest', manifest]]), blobs: new Map(blobs) }]]);
const repoOf = (name) => {
  if (!repos.has(name)) repos.set(name, { manifests: new Map(), blobs: new Map() });
  return repos.get(name);
};
const uploads = new Map();  // upload id -> repository
let uploadsStarted = 0;
const readBody = (req) =>
  new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
const registryError = (res, status, code) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replaceAll('_', ' ') }] }));
};
const registry = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://registry.invalid');
  const m = url.pathname.match(
    /^\/v2\/([^/]+\/[^/]+)\/(?:manifests\/([^/]+)|blobs\/(sha256:[0-9a-f]{64})|blobs\/uploads\/([^/]*))$/,
  );
  if (!m) return registryError(res, 404, 'MANIFEST_UNKNOWN');
  const [, repoName, tag, digest, upload] = m;
  if (upload !== undefined) {
    if (req.method === 'POST' && upload === '') {
      const id = `u${++uploadsStarted}`;
      uploads.set(id, repoName);
      res.writeHead(202, { Location: `/v2/${repoName}/blobs/uploads/${id}?_state=${id}`, 'Content-Length': 0 });
      return res.end();
    }
    if (req.method === 'PUT' && uploads.get(upload) === repoName) {
      const body = await readBody(req);
      const want = url.searchParams.get('digest');
      if (sha(body) !== want) return registryError(res, 400, 'DIGEST_INVALID');
      uploads.delete(upload);
      repoOf(repoName).blobs.set(want, body);
      res.writeHead(201, { Location: `/v2/${repoName}/blobs/${want}`, 'Content-Length': 0 });
      return res.end();
    }
    return registryError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
  }
  if (tag !== undefined && req.method === 'PUT') {
    const body = await readBody(req);
    if (req.headers['content-type'] !== 'application/vnd.docker.distribution.manifest.v2+json') {
      return registryError(res, 400, 'MANIFEST_INVALID');
    }
    repoOf(repoName).manifests.set(tag, body);
    res.writeHead(201, { 'Content-Length': 0 });
    return res.end();
  }
  const repo = repos.get(repoName);
  if (!repo || (tag !== undefined && !repo.manifests.has(tag))) return registryError(res, 404, 'MANIFEST_UNKNOWN');
  const body = digest ? repo.blobs.get(digest) : repo.manifests.get(tag);
  if (!body) {
    res.writeHead(404);
    return res.end();
  }
  const type = digest ? 'application/octet-stream' : 'application/vnd.docker.distribution.manifest.v2+json';
  // Resumed downloads ask for a range; answer it as a registry would.
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range && Number(range[1]) < body.length) {
    const from = Number(range[1]);
    res.writeHead(206, {
      'Content-Type': type,
      'Content-Length': body.length - from,
      'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`,
    });
    return res.end(req.method === 'HEAD' ? undefined : body.subarray(from));
  }
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
});
await new Promise((r) => registry.listen(0, '127.0.0.1', r));
const registryPort = registry.address().port;
const pulled = `127.0.0.1:${registryPort}/library/tiny:latest`;

// ---- 4. pull first: the store's model serves the later checks ----
await check('4 pull: stream ends on status success, blob lines carry digest/total/completed', async () => {
  const lines = [];
  for await (const p of await ollama.pull({ model: pulled, insecure: true, stream: true })) lines.push(p);
  assert(lines.length >= 3, `only ${lines.length} lines`);
  assert(lines[0].status === 'pulling manifest', `first line ${JSON.stringify(lines[0])}`);
  assert(lines.at(-1).status === 'success', `last line ${JSON.stringify(lines.at(-1))}`);
  const blob = lines.find((l) => l.digest === sha(ggufBytes));
  assert(blob && blob.total === ggufBytes.length, `no line for the model blob: ${JSON.stringify(lines)}`);
  assert(lines.some((l) => l.digest === sha(ggufBytes) && l.completed === ggufBytes.length), 'blob never completed');
  return `${lines.length} lines`;
});
await check('4 pull: stream:false answers {status:"success"}', async () => {
  const r = await ollama.pull({ model: pulled, insecure: true, stream: false });
  assert(r.status === 'success', JSON.stringify(r));
});
await check('4 pull: unknown model is a 404 before any line', async () => {
  const e = await rejects(
    async () => {
      for await (const _ of await ollama.pull({ model: `127.0.0.1:${registryPort}/library/nope:latest`, insecure: true, stream: true }));
    },
    'pull of a missing model',
  );
  assert(e.status_code === 404, `status ${e.status_code}: ${e.message}`);
  return e.message;
});
await check('4 push (sent as name, insecure, streamed): ends on success; the registry holds manifest and blobs', async () => {
  const pushed = `127.0.0.1:${registryPort}/library/pushed:latest`;
  await ollama.copy({ source: pulled, destination: pushed });
  // The store's digest of the model is the sha256 of its manifest bytes: the registry must get those bytes.
  const stored = (await ollama.list()).models.find((m) => m.name === pushed);
  assert(stored, 'the copy to push is not listed');
  const lines = [];
  for await (const p of await ollama.push({ model: pushed, insecure: true, stream: true })) lines.push(p);
  assert(lines[0]?.status === 'retrieving manifest', `first line ${JSON.stringify(lines[0])}`);
  assert(lines.at(-1)?.status === 'success', `last line ${JSON.stringify(lines.at(-1))}`);
  assert(lines.some((l) => l.status === 'pushing manifest'), 'no "pushing manifest" line');
  assert(lines.some((l) => l.digest === sha(ggufBytes) && l.total === ggufBytes.length && l.completed === ggufBytes.length),
         `the model blob never completed: ${JSON.stringify(lines)}`);
  const repo = repos.get('library/pushed');
  const held = repo?.manifests.get('latest');
  assert(held, 'the registry holds no manifest for library/pushed:latest');
  assert(sha(held) === `sha256:${stored.digest}`, `manifest bytes differ from the store's: ${held}`);
  assert(JSON.parse(held).layers[0].digest === sha(ggufBytes), `manifest ${held}`);
  assert(repo.blobs.get(sha(ggufBytes))?.equals(ggufBytes), 'the GGUF did not arrive');
  assert(repo.blobs.get(sha(configBytes))?.equals(configBytes), 'the config did not arrive');
  await ollama.delete({ model: pushed });
  return `${lines.length} lines`;
});
// The locus CLI, asynchronously: this process serves the registry it (or the server) talks to.
const locusCli = (argv, env) => new Promise((resolve) => {
  execFile(args.locus, argv, { env: { ...process.env, ...env } },
           (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stderr }));
});
await check('4 pull from the CLI through the server (locus pull with LOCUS_HOST): exit 0, the server lists it', async () => {
  const name = `127.0.0.1:${registryPort}/library/tiny:latest`;
  await ollama.delete({ model: name }).catch(() => {});
  const run = await locusCli(['pull', name], { LOCUS_HOST: new URL(base).host });
  assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
  const listed = (await ollama.list()).models.find((m) => m.name === name);
  assert(listed, `not listed after the pull: ${run.stderr}`);
  return 'exit 0';
});
await check('4 pull from the CLI without a server: into LOCUS_MODELS; an unknown model exits 1 with one line', async () => {
  const store = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR || '/tmp'), 'locus-cli-pull-'));
  try {
    const env = { LOCUS_HOST: '127.0.0.1:1', LOCUS_MODELS: store };  // nothing listens on port 1
    const run = await locusCli(['pull', `127.0.0.1:${registryPort}/library/tiny:latest`], env);
    assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
    assert(fs.existsSync(path.join(store, 'manifests', `127.0.0.1:${registryPort}`, 'library', 'tiny', 'latest')),
           'no manifest in the store');
    const missing = await locusCli(['pull', `127.0.0.1:${registryPort}/library/nope:latest`], env);
    assert(missing.code === 1 && /locus: .*not found|locus: .*nope/.test(missing.stderr), `exit ${missing.code}: ${missing.stderr}`);
    return 'exit 0, then 1';
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
});
await check('4 push from the CLI through the server (locus push with LOCUS_HOST): exit 0, the registry holds it', async () => {
  const pushed = `127.0.0.1:${registryPort}/library/cli-pushed:latest`;
  await ollama.copy({ source: pulled, destination: pushed });
  const run = await locusCli(['push', pushed], { LOCUS_HOST: new URL(base).host });
  assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
  const held = repos.get('library/cli-pushed')?.manifests.get('latest');
  assert(held && JSON.parse(held).layers[0].digest === sha(ggufBytes), `registry manifest: ${held}`);
  await ollama.delete({ model: pushed });
  return 'exit 0';
});
await check('4 push: a model the store does not have is a 404 before any line', async () => {
  const e = await rejects(
    async () => {
      for await (const _ of await ollama.push({ model: `127.0.0.1:${registryPort}/library/nope:latest`, insecure: true, stream: true }));
    },
    'push of a missing model',
  );
  assert(e.status_code === 404, `status ${e.status_code}: ${e.message}`);
  return e.message;
});
const model = pulled;

// ---- 1. chat ----
await check('1 chat stream:false', async () => {
  const r = await ollama.chat({ model, messages: hello, stream: false, options: opts(8) });
  assert(r.done === true && typeof r.message.content === 'string', JSON.stringify(r));
  assert(r.message.role === 'assistant' && r.eval_count > 0, JSON.stringify(r));
});
await check('1 chat stream:true ends on done:true', async () => {
  const parts = [];
  for await (const p of await ollama.chat({ model, messages: hello, stream: true, options: opts(8) })) parts.push(p);
  assert(parts.length >= 2, `${parts.length} parts`);
  assert(parts.at(-1).done === true && parts.slice(0, -1).every((p) => p.done === false), 'done only on the last part');
  return `${parts.length} parts`;
});
await check('1 chat logprobs: one entry per generated token (not the end of turn), top_logprobs sorted', async () => {
  const r = await ollama.chat({ model, messages: hello, stream: false, options: opts(8), logprobs: true, top_logprobs: 2 });
  assert(Array.isArray(r.logprobs), JSON.stringify(r));
  assert(r.logprobs.length === r.eval_count - (r.done_reason === 'stop' ? 1 : 0), `${r.logprobs.length} entries, eval_count ${r.eval_count}`);
  for (const e of r.logprobs) {
    assert(typeof e.token === 'string' && e.logprob <= 0 && Array.isArray(e.bytes), JSON.stringify(e));
    assert(e.top_logprobs.length === 2 && e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob, JSON.stringify(e));
  }
  const parts = [];
  // Untruncated sampling, so that the random model writes text (its favourite is a marker the parser drops).
  const wide = { ...opts(8), top_k: 0, top_p: 1, temperature: 1 };
  for await (const p of await ollama.chat({ model, messages: hello, stream: true, options: wide, logprobs: true })) parts.push(p);
  const n = parts.reduce((a, p) => a + (p.logprobs?.length ?? 0), 0);
  assert(n === parts.at(-1).eval_count - (parts.at(-1).done_reason === 'stop' ? 1 : 0), `${n} streamed entries`);
  const texts = parts.filter((p) => !p.done && p.message.content);
  assert(texts.length > 0 && texts.every((p) => p.logprobs?.length > 0), 'every chunk with text carries logprobs');
  return `${r.logprobs.length} entries`;
});
await check('1 chat stream aborted mid-way: the client throws AbortError, the server keeps serving', async () => {
  const it = await ollama.chat({ model, messages: hello, stream: true, options: { num_predict: 100000, seed: 2 } });
  let n = 0;
  const e = await rejects(async () => {
    for await (const _ of it) {
      if (++n === 3) it.abort();
    }
  }, 'aborted stream');
  assert(e.name === 'AbortError', `${e.name}: ${e.message}`);
  const r = await ollama.chat({ model, messages: hello, stream: false, options: opts(4) });
  assert(r.done === true, 'the next request did not complete');
});

// ---- 2. generate ----
const schema = {
  type: 'object',
  properties: { color: { type: 'string', enum: ['red', 'green', 'blue'] }, ok: { type: 'boolean' } },
  required: ['color', 'ok'],
};
await check('2 generate with a format schema parses and validates', async () => {
  const r = await ollama.generate({ model, prompt: 'Pick a color.', format: schema, stream: false, options: opts(256, 5) });
  assert(r.done_reason === 'stop', `done_reason ${r.done_reason}: ${JSON.stringify(r.response)}`);
  const j = JSON.parse(r.response);
  assert(['red', 'green', 'blue'].includes(j.color) && typeof j.ok === 'boolean', r.response);
  return r.response;
});
await check('2 generate think:true: no channel markers in response or thinking', async () => {
  const r = await ollama.generate({ model, prompt: 'Think first.', think: true, stream: false, options: opts(48, 7) });
  assert(r.done === true, JSON.stringify(r));
  assert(!leaked(r.response) && !leaked(r.thinking ?? ''), JSON.stringify(r));
  let text = '';
  for await (const p of await ollama.chat({ model, messages: hello, think: true, stream: true, options: opts(48, 8) })) {
    text += p.message.content;
    assert(!leaked(p.message.thinking ?? ''), 'thinking holds a marker');
  }
  assert(!leaked(text), `content ${JSON.stringify(text)}`);
  return `thinking ${(r.thinking ?? '').length} chars`;
});
await check('2 generate with images is refused with 400 (no media support yet)', async () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  const e = await rejects(() => ollama.generate({ model, prompt: 'x', images: [png], stream: false }), 'images');
  assert(e.status_code === 400, `status ${e.status_code}: ${e.message}`);
});

// ---- 3. tools on the Ollama API ----
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Tokyo'] } }, required: ['city'] },
  },
};
await check('3 chat with tools: any tool call has object arguments; a role:tool turn round-trips', async () => {
  const r = await ollama.chat({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool],
                                stream: false, options: opts(32, 3) });
  for (const c of r.message.tool_calls ?? []) {
    assert(typeof c.function.arguments === 'object' && !Array.isArray(c.function.arguments), JSON.stringify(c));
  }
  // The second turn as a client sends it after running the tool (arguments an object, the result by tool_name).
  const call = r.message.tool_calls?.[0] ?? { function: { name: 'get_weather', arguments: { city: 'Paris' } } };
  const r2 = await ollama.chat({
    model,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [call] },
      { role: 'tool', content: '11 degrees', tool_name: 'get_weather' },
    ],
    tools: [weatherTool],
    stream: false,
    options: opts(8),
  });
  assert(r2.done === true, JSON.stringify(r2));
  return `${(r.message.tool_calls ?? []).length} call(s) from the random model`;
});

// ---- 4. list / show / ps / embed / copy / delete / version ----
await check('4 version', async () => {
  const v = await ollama.version();
  assert(typeof v.version === 'string' && v.version.length > 0, JSON.stringify(v));
  return v.version;
});
await check('4 list shows the pulled model', async () => {
  const { models } = await ollama.list();
  const m = models.find((x) => x.name === model);
  assert(m, `not in ${JSON.stringify(models.map((x) => x.name))}`);
  assert(m.size > 0 && typeof m.digest === 'string' && m.details?.format === 'gguf', JSON.stringify(m));
  assert(!Number.isNaN(Date.parse(m.modified_at)), `modified_at ${m.modified_at}`);
});
await check('4 show', async () => {
  const s = await ollama.show({ model });
  assert(typeof s.modelfile === 'string' && s.details?.format === 'gguf', JSON.stringify(s).slice(0, 300));
  assert(s.model_info?.['general.architecture'] === 'gemma4', JSON.stringify(s.model_info).slice(0, 200));
  assert(Array.isArray(s.capabilities) && s.capabilities.includes('completion'), JSON.stringify(s.capabilities));
});
await check('4 ps lists the loaded model', async () => {
  const { models } = await ollama.ps();
  const m = models.find((x) => x.name === model);
  assert(m && m.size > 0 && !Number.isNaN(Date.parse(m.expires_at)), JSON.stringify(models));
});
let embedVector = null;
await check('4 embed: one unit vector per input; prompt_eval_count; durations', async () => {
  const r = await ollama.embed({ model, input: ['hello world', 'a second text'] });
  assert(r.model === model && r.embeddings.length === 2, JSON.stringify(r).slice(0, 200));
  const n = r.embeddings[0].length;
  assert(n > 0 && r.embeddings[1].length === n, 'sizes');
  for (const v of r.embeddings) assert(Math.abs(norm(v) - 1) < 1e-3, `norm ${norm(v)}`);
  assert(r.prompt_eval_count > 2 && r.total_duration > 0, JSON.stringify({ ...r, embeddings: undefined }));
  embedVector = r.embeddings[0];
  return `n_embd ${n}`;
});
await check('4 embed: string input, dimensions re-normalized, the legacy endpoint agrees', async () => {
  const one = await ollama.embed({ model, input: 'hello world' });
  assert(one.embeddings.length === 1, 'one vector');
  const same = one.embeddings[0].every((x, i) => Math.abs(x - embedVector[i]) < 1e-5);
  assert(same, 'a text embeds the same alone and in a batch');
  const d = await ollama.embed({ model, input: 'hello world', dimensions: 8 });
  assert(d.embeddings[0].length === 8 && Math.abs(norm(d.embeddings[0]) - 1) < 1e-4, JSON.stringify(d.embeddings));
  const legacy = await ollama.embeddings({ model, prompt: 'hello world' });
  assert(legacy.embedding.length === embedVector.length, 'legacy size');
  assert(legacy.embedding.every((x, i) => Math.abs(x - embedVector[i]) < 1e-5), 'legacy vector differs');
});
await check('4 embed: empty input, dimensions out of range, too long with truncate:false -> 400', async () => {
  for (const [what, req] of [
    ['empty string', { model, input: '' }],
    ['empty list', { model, input: [] }],
    ['dimensions 0', { model, input: 'x', dimensions: 0 }],
    ['dimensions beyond n_embd', { model, input: 'x', dimensions: embedVector.length + 1 }],
    ['too long', { model, input: 'word '.repeat(5000), truncate: false }],
  ]) {
    const e = await rejects(() => ollama.embed(req), what);
    assert(e.status_code === 400, `${what}: status ${e.status_code}: ${e.message}`);
  }
  const cut = await ollama.embed({ model, input: 'word '.repeat(5000) });  // truncate defaults to true
  assert(cut.embeddings.length === 1, 'a too-long input is cut by default');
});
await check('4 copy then delete (sent as name) removes the copy; show is then 404', async () => {
  const copy = `127.0.0.1:${registryPort}/library/tiny:copy`;
  await ollama.copy({ source: model, destination: copy });
  assert((await ollama.list()).models.some((m) => m.name === copy), 'copy not listed');
  await ollama.delete({ model: copy });
  assert(!(await ollama.list()).models.some((m) => m.name === copy), 'copy still listed');
  const e = await rejects(() => ollama.show({ model: copy }), 'show of a deleted model');
  assert(e.status_code === 404, `status ${e.status_code}`);
});

await check('4 create from the pulled model with a system prompt: stream ends on success; show has it', async () => {
  const made = `127.0.0.1:${registryPort}/library/tiny:terse`;
  const lines = [];
  for await (const p of await ollama.create({ model: made, from: model, system: 'Be terse.',
                                              parameters: { temperature: 0.5 }, stream: true })) lines.push(p);
  assert(lines.at(-1)?.status === 'success', JSON.stringify(lines));
  const s = await ollama.show({ model: made });
  assert(s.system === 'Be terse.', `system ${JSON.stringify(s.system)}`);
  assert(/temperature\s+0\.5/.test(s.parameters ?? ''), `parameters ${JSON.stringify(s.parameters)}`);
  await ollama.delete({ model: made });
  return `${lines.length} lines`;
});

// ---- 5. keep_alive ----
async function psEntry() {
  return (await ollama.ps()).models.find((m) => m.name === model);
}
await check('5 keep_alive "10m", 300 and -1 accepted; expires_at moves', async () => {
  const expiry = {};
  for (const ka of ['10m', 300, -1]) {
    const r = await ollama.generate({ model, prompt: 'Hi', keep_alive: ka, stream: false, options: opts(2) });
    assert(r.done === true, `keep_alive ${ka}`);
    const m = await psEntry();
    assert(m, `not loaded after keep_alive ${ka}`);
    expiry[ka] = Date.parse(m.expires_at) - Date.now();
  }
  const min = 60_000;
  assert(Math.abs(expiry['10m'] - 600_000) < min, `10m -> ${expiry['10m']} ms`);
  assert(Math.abs(expiry[300] - 300_000) < min, `300 -> ${expiry[300]} ms`);
  assert(expiry[-1] > 365 * 24 * 3600_000, `-1 -> ${expiry[-1]} ms`);
  return `10m ${Math.round(expiry['10m'] / 1000)} s, 300 ${Math.round(expiry[300] / 1000)} s, -1 ~${Math.round(expiry[-1] / 3.15e10)} y`;
});
await check('5 keep_alive 0 unloads: /api/ps empty', async () => {
  const r = await ollama.chat({ model, messages: hello, keep_alive: 0, stream: false, options: opts(2) });
  assert(r.done === true, 'chat');
  for (let i = 0; i < 40; i++) {
    if ((await ollama.ps()).models.length === 0) return `after ${i * 100} ms`;
    await sleep(100);
  }
  throw new Error(`still loaded: ${JSON.stringify((await ollama.ps()).models)}`);
});
await check('5 generate with an empty prompt and keep_alive 0 answers done_reason unload', async () => {
  const r = await ollama.generate({ model, prompt: '', keep_alive: 0, stream: false });
  assert(r.done === true && r.done_reason === 'unload', JSON.stringify(r));
});

// ---- 6. OpenAI streaming with usage ----
await check('6 stream with include_usage: usage chunk with choices [] last, then the iterator ends', async () => {
  const chunks = [];
  const stream = await openai.chat.completions.create({
    model, messages: hello, stream: true, stream_options: { include_usage: true }, max_tokens: 8, seed: 1,
  });
  for await (const c of stream) chunks.push(c);
  const last = chunks.at(-1);
  assert(Array.isArray(last.choices) && last.choices.length === 0, JSON.stringify(last));
  assert(last.usage && last.usage.completion_tokens > 0 && last.usage.total_tokens ===
         last.usage.prompt_tokens + last.usage.completion_tokens, JSON.stringify(last.usage));
  const finish = chunks.at(-2);
  assert(finish.choices[0].finish_reason, `finish chunk ${JSON.stringify(finish)}`);
  assert(new Set(chunks.map((c) => c.id)).size === 1, 'one id');
  return `${chunks.length} chunks`;
});
await check('6 non-stream chat.completion', async () => {
  const r = await openai.chat.completions.create({ model, messages: hello, max_tokens: 8, seed: 1 });
  assert(r.object === 'chat.completion' && r.choices[0].message.role === 'assistant', JSON.stringify(r));
  assert(r.usage.completion_tokens > 0, JSON.stringify(r.usage));
});

// completion_tokens counts the end-of-turn token, which has no logprobs entry (it is no text): one fewer
// unless the answer was cut (finish_reason length).
await check('6 logprobs: choices[0].logprobs.content has one entry per completion token, top_logprobs 2', async () => {
  const r = await openai.chat.completions.create({ model, messages: hello, max_tokens: 8, seed: 1, logprobs: true, top_logprobs: 2 });
  const content = r.choices[0].logprobs?.content;
  assert(Array.isArray(content), JSON.stringify(r.choices[0]));
  const expected = r.usage.completion_tokens - (r.choices[0].finish_reason === 'length' ? 0 : 1);
  assert(content.length === expected, `${content.length} entries, completion_tokens ${r.usage.completion_tokens}`);
  for (const e of content) {
    assert(typeof e.token === 'string' && e.logprob <= 0 && Array.isArray(e.bytes), JSON.stringify(e));
    assert(e.top_logprobs.length === 2 && e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob, JSON.stringify(e));
  }
  assert(r.usage.completion_tokens_details.reasoning_tokens === 0, JSON.stringify(r.usage));
  return `${content.length} entries`;
});

// ---- 7. OpenAI tools through the stream helpers ----
const forced = { type: 'function', function: { name: 'get_weather' } };
await check('7 chat.completions.stream with a forced tool: finish_reason tool_calls, arguments parse', async () => {
  const stream = openai.chat.completions.stream({
    model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: forced,
    max_tokens: 64, seed: 4,
  });
  const final = await stream.finalChatCompletion();
  const choice = final.choices[0];
  assert(choice.finish_reason === 'tool_calls', `finish_reason ${choice.finish_reason}`);
  const call = choice.message.tool_calls?.[0];
  assert(call?.type === 'function' && call.function.name === 'get_weather' && call.id, JSON.stringify(call));
  const a = JSON.parse(call.function.arguments);
  assert(['Paris', 'Tokyo'].includes(a.city), call.function.arguments);
  return call.function.arguments;
});
for (const stream of [false, true]) {
  await check(`7 runTools (stream:${stream}) runs the forced tool once and ends`, async () => {
    const calls = [];
    const runner = openai.chat.completions.runTools({
      model,
      messages: [{ role: 'user', content: 'Weather in Tokyo?' }],
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: weatherTool.function.parameters,
          parse: JSON.parse,
          function: (a) => {
            calls.push(a);
            return { degrees: 11 };
          },
        },
      }],
      tool_choice: forced,
      max_tokens: 64,
      seed: 6,
      stream,
    });
    const final = await runner.finalChatCompletion();
    assert(calls.length === 1 && ['Paris', 'Tokyo'].includes(calls[0].city), JSON.stringify(calls));
    assert(final.choices[0].finish_reason === 'tool_calls', `finish_reason ${final.choices[0].finish_reason}`);
  });
}

// ---- 8. structured output with zod ----
await check('8 response_format json_schema strict via zodResponseFormat; .parse() validates', async () => {
  const Answer = z.object({ color: z.enum(['red', 'green', 'blue']), ok: z.boolean() });
  const r = await openai.chat.completions.parse({
    model, messages: [{ role: 'user', content: 'Pick a color.' }], response_format: zodResponseFormat(Answer, 'answer'),
    max_tokens: 256, seed: 5,
  });
  const msg = r.choices[0].message;
  assert(r.choices[0].finish_reason === 'stop', `finish_reason ${r.choices[0].finish_reason}: ${msg.content}`);
  assert(msg.parsed && Answer.safeParse(msg.parsed).success, `parsed ${JSON.stringify(msg.parsed)} from ${msg.content}`);
  return msg.content;
});

// ---- 9 (the part without media): a remote image URL is a clean 400 in OpenAI's envelope ----
await check('9 image_url with a remote URL -> 400 with the OpenAI error envelope', async () => {
  const e = await rejects(() => openai.chat.completions.create({
    model, max_tokens: 4,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'http://127.0.0.1:1/x.png' } }] }],
  }), 'remote image');
  assert(e.status === 400 && typeof e.error?.message === 'string' && 'type' in e.error, `${e.status} ${JSON.stringify(e.error)}`);
  return e.error.message;
});

// ---- 10. models and embeddings on the OpenAI API ----
await check('10 models.list contains the pulled model', async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  assert(ids.includes(model), JSON.stringify(ids));
});
await check('10 embeddings: float, base64 (decoded by hand) and the client default agree exactly', async () => {
  const input = ['hello world', 'a second text'];
  const f = await openai.embeddings.create({ model, input, encoding_format: 'float' });
  const b = await openai.embeddings.create({ model, input, encoding_format: 'base64' });
  const d = await openai.embeddings.create({ model, input });  // the client asks for base64 and decodes it itself
  assert(f.object === 'list' && f.data.length === 2 && f.data[1].index === 1, JSON.stringify(f).slice(0, 200));
  assert(f.usage.prompt_tokens > 0 && f.usage.total_tokens === f.usage.prompt_tokens, JSON.stringify(f.usage));
  for (let i = 0; i < 2; i++) {
    const buf = Buffer.from(b.data[i].embedding, 'base64');
    const dec = Array.from({ length: buf.length / 4 }, (_, k) => buf.readFloatLE(k * 4));
    const fl = f.data[i].embedding.map(Math.fround);
    assert(dec.length === fl.length && dec.every((x, k) => x === fl[k]), `base64 and float differ at input ${i}`);
    assert(d.data[i].embedding.every((x, k) => x === fl[k]), `client-decoded differs at input ${i}`);
  }
  const t = await openai.embeddings.create({ model, input: [[2, 100, 200], [2, 300]], dimensions: 4, encoding_format: 'float' });
  assert(t.data.length === 2 && t.data[0].embedding.length === 4, 'token-id inputs with dimensions');
  const e = await rejects(() => openai.embeddings.create({ model, input: '' }), 'empty input');
  assert(e.status === 400 && e.error?.message, `${e.status} ${JSON.stringify(e.error)}`);
  return `${f.data[0].embedding.length} floats`;
});

// ---- 4. delete the pulled model (name alias), after everything that used it ----
await check('4 delete (sent as name): list no longer has the model', async () => {
  await ollama.delete({ model });
  assert(!(await ollama.list()).models.some((m) => m.name === model), 'still listed');
});

// ---- a request names models, never files (issue 12): the served name works, the file's path is a 404 ----
await check('2 a file path as the model is a 404 in both envelopes; the name the server gave the file works', async () => {
  const r = await ollama.generate({ model: served, prompt: 'Hi', stream: false, options: opts(2) });
  assert(r.done === true, JSON.stringify(r));
  const e = await rejects(() => ollama.chat({ model: gguf, messages: hello, stream: false }), 'a path as the model');
  assert(e.status_code === 404 && /not found/.test(e.error) && !/magic/.test(e.error), `${e.status_code}: ${e.error}`);
  const s = await rejects(async () => {
    for await (const _ of await ollama.chat({ model: `../../../..${gguf}`, messages: hello, stream: true }));
  }, 'a traversal as the model, streamed');
  assert(s.status_code === 404, `${s.status_code}: ${s.error}`);
  const o = await rejects(() => openai.chat.completions.create({ model: gguf, messages: hello, max_tokens: 2 }),
                          'a path as the model (openai)');
  assert(o.status === 404 && o.code === 'model_not_found' && o.type === 'not_found_error' && o.param === 'model',
         `${o.status} ${JSON.stringify(o.error)}`);
  const m = await rejects(() => openai.models.retrieve(gguf), 'a path in /v1/models/');
  assert(m.status === 404 && m.code === 'model_not_found', `${m.status} ${JSON.stringify(m.error)}`);
  const v = await rejects(() => openai.embeddings.create({ model: gguf, input: 'x' }), 'a path to /v1/embeddings');
  assert(v.status === 404, `${v.status} ${JSON.stringify(v.error)}`);
  return `${e.status_code}: ${e.error.slice(0, 60)}...`;
});

// ---- 1. the server stops mid-stream: the client must see an error, not a silent end ----
await check('1 server shutdown mid-stream surfaces an error in the ollama iterator', async () => {
  const it = await ollama.chat({ model: served, messages: hello, stream: true, options: { num_predict: 100000, seed: 9 } });
  let n = 0;
  const e = await rejects(async () => {
    for await (const _ of it) {
      if (++n === 3) process.kill(Number(args.pid), 'SIGTERM');
    }
  }, 'stream cut by shutdown');
  assert(/shutting down|done or success/.test(e.message), e.message);
  return e.message;
});

registry.close();
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
