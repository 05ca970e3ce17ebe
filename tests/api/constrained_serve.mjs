// Constrained answers through the HTTP API of a running `locus serve` (loopback only), over many seeds: Ollama
// /api/chat with `format` (a schema or "json"), OpenAI /v1/chat/completions with `response_format` or tools and
// `tool_choice` required / named, streamed and not, thinking off and on, small and large budgets, temperature 1.
// Every answer must either finish ("stop"; OpenAI "tool_calls" for a call) with a value that parses and
// validates (a forced call: valid calls, exactly one with parallel_tool_calls false, and no text), or say
// "length"; with thinking off no thinking may come out at all, and with thinking on OpenAI's reasoning_tokens
// stay within half the budget. Marker text never reaches content or thinking.
// usage: node constrained_serve.mjs BASE_URL MODEL N_REQUESTS
const [base, model, nArg] = process.argv.slice(2);
const n = Number(nArg);

const schemas = [
  {
    name: 'required fields',
    schema: {type: 'object', properties: {name: {type: 'string', maxLength: 8},
      n: {type: 'integer', minimum: 1, maximum: 9}, ok: {type: 'boolean'}}, required: ['name', 'n', 'ok']},
    valid: (j) => isObject(j) && onlyKeys(j, ['name', 'n', 'ok']) && shortString(j.name, 8) &&
      Number.isInteger(j.n) && j.n >= 1 && j.n <= 9 && typeof j.ok === 'boolean',
  },
  {
    name: 'enum',
    schema: {type: 'object', properties: {color: {enum: ['red', 'green', 'blue']}}, required: ['color']},
    valid: (j) => isObject(j) && onlyKeys(j, ['color']) && ['red', 'green', 'blue'].includes(j.color),
  },
  {
    name: 'array',
    schema: {type: 'array', items: {type: 'integer', minimum: 0, maximum: 99}, minItems: 1, maxItems: 4},
    valid: (j) => Array.isArray(j) && j.length >= 1 && j.length <= 4 &&
      j.every((x) => Number.isInteger(x) && x >= 0 && x <= 99),
  },
  {
    name: 'nested',
    schema: {type: 'object', properties: {thing: {type: 'object', properties: {kind: {enum: ['cat', 'box']},
      tags: {type: 'array', items: {type: 'string', maxLength: 4}, maxItems: 2}}, required: ['kind', 'tags']}},
      required: ['thing']},
    valid: (j) => isObject(j) && onlyKeys(j, ['thing']) && isObject(j.thing) && onlyKeys(j.thing, ['kind', 'tags']) &&
      ['cat', 'box'].includes(j.thing.kind) && Array.isArray(j.thing.tags) && j.thing.tags.length <= 2 &&
      j.thing.tags.every((s) => shortString(s, 4)),
  },
  {name: 'json object', schema: 'json', valid: isObject},
  {name: 'forced tool call', schema: 'tools'},
];
const tool = {type: 'function', function: {name: 'get_weather', description: 'The weather',
  parameters: {type: 'object',
    properties: {city: {type: 'string', maxLength: 10}, unit: {type: 'string', enum: ['c', 'f']}},
    required: ['city', 'unit']}}};
const prompts = ['Describe a thing as JSON.', "What's the weather in Paris?", 'Hi'];
const budgets = [8, 16, 40, 100, 256];
const markers = ['<|channel>', '<channel|>', '<|tool_call>', '<tool_call|>', '<|"|>', '<|turn>', '<turn|>',
  '<|tool_response>', '<tool_response|>', '<eos>'];

function isObject(j) { return typeof j === 'object' && j !== null && !Array.isArray(j); }
function onlyKeys(j, keys) { return Object.keys(j).every((k) => keys.includes(k)); }
function shortString(s, max) { return typeof s === 'string' && [...s].length <= max; }
function validCall(name, args) {
  return name === 'get_weather' && isObject(args) && onlyKeys(args, ['city', 'unit']) && shortString(args.city, 10) &&
    ['c', 'f'].includes(args.unit);
}

// Reads a response as one answer: {content, thinking, calls: [{name, args}], reason, reasoningTokens}.
async function ask(api, body, stream) {
  const url = base + (api === 'ollama' ? '/api/chat' : '/v1/chat/completions');
  const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({...body, stream})});
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text}`);
  const a = {content: '', thinking: '', calls: [], reason: null, reasoningTokens: null};
  if (api === 'ollama') {
    const lines = stream ? text.split('\n').filter((l) => l.trim()) : [text];
    for (const line of lines) {
      const j = JSON.parse(line);
      if (j.error) throw new Error('error: ' + j.error);
      a.content += j.message?.content ?? '';
      a.thinking += j.message?.thinking ?? '';
      for (const c of j.message?.tool_calls ?? []) a.calls.push({name: c.function.name, args: c.function.arguments});
      if (j.done) a.reason = j.done_reason;
    }
    return a;
  }
  const payloads = stream
    ? text.split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]').map((l) => l.slice(6))
    : [text];
  if (stream && !text.trimEnd().endsWith('data: [DONE]')) throw new Error('stream without [DONE]: ' + text);
  for (const p of payloads) {
    const j = JSON.parse(p);
    if (j.error) throw new Error('error: ' + JSON.stringify(j.error));
    if (j.usage) a.reasoningTokens = j.usage.completion_tokens_details?.reasoning_tokens ?? null;
    for (const c of j.choices ?? []) {
      const m = stream ? c.delta : c.message;
      a.content += m?.content ?? '';
      a.thinking += m?.reasoning ?? '';
      for (const t of m?.tool_calls ?? []) {
        a.calls.push({name: t.function.name, args: JSON.parse(t.function.arguments)});
      }
      if (c.finish_reason) a.reason = c.finish_reason;
    }
  }
  return a;
}

const tally = {runs: 0, valid: 0, cut: 0, thought: 0};
const failures = [];

async function one(seed) {
  const s = schemas[seed % schemas.length];
  const prompt = prompts[Math.floor(seed / schemas.length) % prompts.length];
  const budget = budgets[(seed * 7 + Math.floor(seed / 5)) % budgets.length];
  const think = Math.floor(seed / 3) % 2 === 1;
  const stream = Math.floor(seed / 2) % 2 === 1;
  // A forced call exists only on OpenAI's API; the other cases alternate between the two.
  const api = s.schema === 'tools' || seed % 4 >= 2 ? 'openai' : 'ollama';
  const messages = [{role: 'user', content: prompt}];
  let body;
  if (api === 'ollama') {
    body = {model, messages, think, options: {temperature: 1, seed, num_predict: budget}};
    body.format = s.schema === 'json' ? 'json' : s.schema;
  } else {
    body = {model, messages, temperature: 1, seed, max_tokens: budget};
    if (think) body.reasoning_effort = 'high';
    if (stream) body.stream_options = {include_usage: true};
    if (s.schema === 'tools') {
      body.tools = [tool];
      body.tool_choice = seed % 2 === 0 ? 'required' : {type: 'function', function: {name: 'get_weather'}};
      // OpenAI allows parallel calls unless told otherwise.
      if (seed % 3 !== 0) body.parallel_tool_calls = false;
    } else if (s.schema === 'json') {
      body.response_format = {type: 'json_object'};
    } else {
      body.response_format = {type: 'json_schema', json_schema: {name: 'x', schema: s.schema}};
    }
  }
  const what = `seed ${seed} ${api} ${s.name} budget ${budget} think ${think} stream ${stream}`;
  let a;
  try {
    a = await ask(api, body, stream);
  } catch (e) {
    failures.push(`${what}: ${e.message}`);
    return;
  }
  tally.runs++;
  const fail = (why) => failures.push(`${what}: ${why}: ${JSON.stringify(a)}`);
  if (!think && a.thinking !== '') return fail('thinking with thinking off');
  if (a.thinking !== '') tally.thought++;
  if (a.reasoningTokens !== null && a.reasoningTokens > Math.floor(budget / 2)) {
    return fail('thinking over half the budget');
  }
  for (const m of markers) {
    if (a.content.includes(m) || a.thinking.includes(m)) return fail(`marker ${m} in the text`);
  }
  if (a.reason === 'length') {
    tally.cut++;
    return;
  }
  const finished = s.schema === 'tools' ? (api === 'openai' ? 'tool_calls' : 'stop') : 'stop';
  if (a.reason !== finished) return fail(`finish reason ${a.reason}, want ${finished} or length`);
  if (s.schema === 'tools') {
    const parallel = body.parallel_tool_calls !== false;
    if (a.calls.length < 1 || (!parallel && a.calls.length !== 1)) return fail(`${a.calls.length} tool calls`);
    if (!a.calls.every((c) => validCall(c.name, c.args))) return fail('invalid call');
    if (a.content.trim() !== '') return fail('text beside the call');
  } else {
    let j;
    try {
      j = JSON.parse(a.content);
    } catch (e) {
      return fail('does not parse');
    }
    if (!s.valid(j)) return fail('does not validate');
    if (a.calls.length !== 0) return fail('a tool call in a JSON answer');
  }
  tally.valid++;
}

// Two at a time (the server has two slots).
let next = 1;
async function worker() {
  while (next <= n) await one(next++);
}
await Promise.all([worker(), worker()]);
console.log(`${tally.runs} answers: ${tally.valid} valid, ${tally.cut} cut (length), ${tally.thought} thought first`);
for (const f of failures.slice(0, 10)) console.log('FAIL ' + f);
if (failures.length > 0 || tally.valid < tally.runs / 4 || tally.runs !== n) {
  console.log(`FAIL ${failures.length} failures, ${tally.valid} of ${tally.runs} valid`);
  process.exit(1);
}
