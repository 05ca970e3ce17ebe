// Images, audio and video through a running `locus serve` (loopback only) with the real npm clients: the Ollama
// client's `images` on chat and generate (audio bytes in `images` too, recognised by content), the OpenAI client's
// image_url (data URIs, `detail`), input_audio and video_url parts, and /v1/audio/transcriptions; capabilities in
// /api/show; a model without a projector and bad media refused with one-line 400s; a re-sent image served from the
// prompt cache. The model is random, so the checks are about shapes, token counts and errors, not about meaning.
// usage: node media_clients.mjs BASE_URL NODE_MODULES MEDIA_DIR
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [base, modules, mediaDir] = process.argv.slice(2);
const mod = (p) => pathToFileURL(path.resolve(modules, p)).href;
const { Ollama } = await import(mod('ollama/dist/index.mjs'));
const { default: OpenAI, toFile } = await import(mod('openai/index.mjs'));
const ollama = new Ollama({ host: base });
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });

let failures = 0;
async function check(name, fn) {
  try {
    const detail = await fn();
    console.log(`ok   ${name}${typeof detail === 'string' && detail ? ` (${detail})` : ''}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(e)}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function rejects(fn, what) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected an error, got none`);
}
const file = (name) => fs.readFileSync(path.join(mediaDir, name));
const b64 = (name) => file(name).toString('base64');
const dataUri = (name, type) => `data:${type};base64,${b64(name)}`;
const opts = { num_predict: 4, temperature: 0, seed: 1 };

// Text alone, for the prompt sizes below.
const textOnly = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'Describe this.' }], options: opts });
const base_tokens = textOnly.prompt_eval_count;

await check('ollama chat: an image in `images` (PNG) adds its tokens (Google rule, 280 budget)', async () => {
  const r = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'Describe this.', images: [b64('a.png')] }],
    options: opts });
  assert(r.done && ['stop', 'length'].includes(r.done_reason), `done_reason ${r.done_reason}`);
  const added = r.prompt_eval_count - base_tokens;
  // 300x200 at 280 tokens: Google's floor rule gives (w'/48)*(h/48) tokens plus <|image> and <image|>.
  assert(added > 100 && added <= 282, `the image added ${added} tokens`);
  return `${added} tokens for the image`;
});

await check('ollama chat: image_tokens 70 and 1120 change the budget', async () => {
  const counts = [];
  for (const t of [70, 1120]) {
    const r = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'Describe this.', images: [b64('b.jpg')] }],
      options: { ...opts, image_tokens: t } });
    counts.push(r.prompt_eval_count + (r.prompt_cached_tokens ?? 0));
  }
  assert(counts[0] < counts[1], `70 -> ${counts[0]}, 1120 -> ${counts[1]}`);
  return counts.join(' < ');
});

await check('ollama generate: an image in `images` (JPEG)', async () => {
  const r = await ollama.generate({ model: 'tiny', prompt: 'What is this?', images: [b64('b.jpg')], options: opts });
  assert(r.done && r.prompt_eval_count > 70, `prompt_eval_count ${r.prompt_eval_count}`);
});

await check('ollama chat: audio bytes in `images` are recognised as audio by their content', async () => {
  const r = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'Describe this.', images: [b64('c.wav')] }],
    options: opts });
  // prompt_eval_count leaves out what the prompt cache held (the turn's first tokens): the 50 audio tokens are new.
  assert(r.done && r.prompt_eval_count >= 50, `prompt_eval_count ${r.prompt_eval_count}`);
});

await check('openai chat: 2 s of audio is 50 tokens (25 per second) between <|audio> and <audio|>', async () => {
  const ask = async (content) => (await openai.chat.completions.create({ model: 'tiny', max_tokens: 2, temperature: 0,
    messages: [{ role: 'user', content }] })).usage.prompt_tokens;
  const text = await ask([{ type: 'text', text: 'Describe this.' }]);
  const audio = await ask([{ type: 'input_audio', input_audio: { data: b64('c.wav'), format: 'wav' } },
    { type: 'text', text: 'Describe this.' }]);
  assert(audio - text === 52, `the clip added ${audio - text} tokens (expected 50 + its two markers)`);
  return `${text} -> ${audio}`;
});

await check('ollama chat: several images and audio in one message and across turns, in order', async () => {
  const r = await ollama.chat({ model: 'tiny', options: opts, messages: [
    { role: 'user', content: 'First.', images: [b64('a.png'), b64('d.mp3')] },
    { role: 'assistant', content: 'Yes.' },
    { role: 'user', content: 'And this?', images: [b64('b.jpg')] }] });
  assert(r.done && r.prompt_eval_count > 300, `prompt_eval_count ${r.prompt_eval_count}`);
});

await check('prompt cache: the same image sent again is not evaluated again', async () => {
  const msgs = [{ role: 'user', content: 'Look.', images: [b64('b.jpg')] }];
  const first = await ollama.chat({ model: 'tiny', messages: msgs, options: opts });
  const second = await ollama.chat({ model: 'tiny', options: opts,
    messages: [...msgs, { role: 'assistant', content: first.message.content }, { role: 'user', content: 'More.' }] });
  assert(second.prompt_eval_count < 100, `second turn evaluated ${second.prompt_eval_count} tokens (first ${first.prompt_eval_count})`);
  return `${first.prompt_eval_count} then ${second.prompt_eval_count}`;
});

await check('openai chat: image_url data URI, detail low < auto < high', async () => {
  const sizes = {};
  for (const detail of ['low', 'auto', 'high']) {
    const r = await openai.chat.completions.create({ model: 'tiny', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: [
      { type: 'text', text: 'Describe.' }, { type: 'image_url', image_url: { url: dataUri('b.jpg', 'image/jpeg'), detail } }] }] });
    assert(r.choices[0].finish_reason, 'no finish_reason');
    sizes[detail] = r.usage.prompt_tokens;
  }
  assert(sizes.low < sizes.auto && sizes.auto < sizes.high, JSON.stringify(sizes));
  return JSON.stringify(sizes);
});

await check('openai chat: input_audio {data, format} streamed', async () => {
  const stream = await openai.chat.completions.create({ model: 'tiny', max_tokens: 4, stream: true, temperature: 0,
    stream_options: { include_usage: true }, messages: [{ role: 'user', content: [
      { type: 'input_audio', input_audio: { data: b64('d.mp3'), format: 'mp3' } }, { type: 'text', text: 'Transcribe.' }] }] });
  let finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.choices?.[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert(finish && usage && usage.prompt_tokens > 38, `finish ${finish}, usage ${JSON.stringify(usage)}`);
});

await check('openai chat: a video as a video_url data URI (frames with timestamps), and its sound with video_audio', async () => {
  const ask = async (extra) => openai.chat.completions.create({ model: 'tiny', max_tokens: 4, temperature: 0, ...extra,
    messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: dataUri('e.mp4', 'video/mp4') } },
      { type: 'text', text: 'What happens?' }] }] });
  const plain = await ask({});
  const withSound = await ask({ video_audio: true });
  assert(plain.usage.prompt_tokens > 70, `video prompt ${plain.usage.prompt_tokens} tokens`);
  assert(withSound.usage.prompt_tokens >= plain.usage.prompt_tokens + 45,
    `with the sound track ${withSound.usage.prompt_tokens}, without ${plain.usage.prompt_tokens}`);
  return `${plain.usage.prompt_tokens} / ${withSound.usage.prompt_tokens} tokens`;
});

await check('openai audio.transcriptions: json, text and verbose_json', async () => {
  const up = async () => toFile(file('c.wav'), 'c.wav', { type: 'audio/wav' });
  const j = await openai.audio.transcriptions.create({ model: 'tiny', file: await up() });
  assert(typeof j.text === 'string', `json: ${JSON.stringify(j)}`);
  const t = await openai.audio.transcriptions.create({ model: 'tiny', file: await up(), response_format: 'text' });
  assert(typeof t === 'string', `text: ${typeof t}`);
  const v = await openai.audio.transcriptions.create({ model: 'tiny', file: await up(), response_format: 'verbose_json',
    language: 'en' });
  assert(typeof v.text === 'string' && Math.abs(v.duration - 2) < 0.1, `verbose_json: ${JSON.stringify(v).slice(0, 200)}`);
});

await check('/api/show: capabilities vision and audio with the projector, neither without', async () => {
  const a = await ollama.show({ model: 'tiny' });
  const b = await ollama.show({ model: 'textonly' });
  assert(a.capabilities.includes('vision') && a.capabilities.includes('audio'), `tiny: ${a.capabilities}`);
  assert(!b.capabilities.includes('vision') && !b.capabilities.includes('audio'), `textonly: ${b.capabilities}`);
});

await check('a model without a projector: a 400 naming it, not a 500', async () => {
  const e = await rejects(() => ollama.chat({ model: 'textonly', messages: [{ role: 'user', content: 'x', images: [b64('a.png')] }] }), 'text-only');
  assert(e.status_code === 400 && /projector/.test(e.message), `${e.status_code} ${e.message}`);
  const o = await rejects(() => openai.chat.completions.create({ model: 'textonly', messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: dataUri('a.png', 'image/png') } }] }] }), 'openai text-only');
  assert(o.status === 400, `${o.status} ${o.message}`);
});

await check('bad media: corrupt bytes, invalid base64, a remote URL: one-line 400s', async () => {
  const corrupt = Buffer.from(file('a.png')).subarray(0, 60).toString('base64');
  for (const [what, fn] of [
    ['truncated PNG', () => ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'x', images: [corrupt] }] })],
    ['not base64', () => ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'x', images: ['%%%not base64%%%'] }] })],
    ['random bytes', () => ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'x', images: [Buffer.from('hello world, not media at all').toString('base64')] }] })],
    ['remote URL', () => openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: 'http://127.0.0.1:1/x.png' } }] }] })],
  ]) {
    const e = await rejects(fn, what);
    const status = e.status_code ?? e.status;
    assert(status === 400, `${what}: status ${status}: ${e.message}`);
    assert(!String(e.message).includes('\n'), `${what}: message has several lines`);
  }
});

process.exit(failures ? 1 : 0);
