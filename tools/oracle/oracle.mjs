#!/usr/bin/env node
// The llama.cpp oracle: answers tokenizer and logits questions about a GGUF with llama.cpp itself, through
// node-llama-cpp's prebuilt CPU library, and prints JSON on stdout. See README.md.
//
// stdout carries only the JSON answer. llama.cpp's own log lines are captured and returned in the answer
// ("llama_log"); --verbose also echoes them to stderr. On failure: one line "oracle: ..." on stderr, exit 1
// (exit 2 for a usage error).

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const USAGE = `usage: node oracle.mjs <command> --model M.gguf [options]
commands:
  info                                   model facts: vocab, special ids, architecture, params, train context
  tokenize  --text S | --text-file F | --json-input F   [--special] [--add-bos]
  detokenize --tokens 1,2,3 | --json-input F            [--special]
  logits    --tokens 2,100,... | --json-input F  [--positions 0,5,-1|all] [--top N] [--full] [--full-out F]
  eval-finite [--text S]                 BOS + tokenize(S, default "Hello"), last-position logits all finite?
  embed     --text S | --tokens 2,100,... | --json-input F   [--pooling model|none|mean|cls|last]
                                         llama.cpp's embedding (the post-output_norm hidden state, pooled) of
                                         each text (BOS/EOS added as the embedding context adds them) or
                                         token list, raw and L2-normalized; F: [string | {"tokens": [ids]}]
  render    --json-input F               the GGUF's chat template (tokenizer.chat_template) rendered with
                                         @huggingface/jinja for each context in F ([{messages, tools,
                                         add_generation_prompt, enable_thinking}]), and the text tokenized
                                         with special tokens parsed
common: --threads N  --flash-attn auto|on|off  --log-level warn|info|debug  --verbose`;

class UsageError extends Error {}

const captured = [];  // llama.cpp and library log lines, [level, message]
let verbose = false;

function capture(level, message) {
  const text = String(message).replace(/\n+$/, "");
  if (text.length === 0) return;
  captured.push({ level, message: text });
  if (verbose) process.stderr.write(`[llama ${level}] ${text}\n`);
}

// Anything the library prints must not reach stdout, which carries the JSON answer.
for (const name of ["log", "info", "warn", "error", "debug"]) {
  console[name] = (...args) => capture(name === "log" ? "info" : name, args.map(String).join(" "));
}

function fail(message, code = 1) {
  // One line, whatever the message holds (llama.cpp errors may quote raw file bytes).
  const line = String(message).replace(/\s*\n\s*/g, " ").replace(/[\x00-\x1f\x7f]/g, "?");
  process.stderr.write(`oracle: ${line}\n`);
  process.exit(code);
}

function parseIntList(text, what) {
  const out = [];
  for (const part of String(text).split(",")) {
    const s = part.trim();
    if (s === "") continue;
    if (!/^-?\d+$/.test(s)) throw new UsageError(`${what}: expected integers separated by commas, found "${s}"`);
    out.push(Number(s));
  }
  return out;
}

function readJsonFile(file, what) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} ${file}: not valid JSON (${e.message})`);
  }
}

function parseCommandLine(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      model: { type: "string" },
      text: { type: "string" },
      "text-file": { type: "string" },
      "json-input": { type: "string" },
      special: { type: "boolean", default: false },
      "add-bos": { type: "boolean", default: false },
      tokens: { type: "string" },
      positions: { type: "string" },
      top: { type: "string" },
      full: { type: "boolean", default: false },
      "full-out": { type: "string" },
      pooling: { type: "string", default: "model" },
      threads: { type: "string" },
      "flash-attn": { type: "string", default: "auto" },
      "log-level": { type: "string", default: "warn" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    process.exit(0);
  }
  if (positionals.length !== 1) {
    throw new UsageError(`expected one command (info, tokenize, detokenize, logits, eval-finite, render, embed), found ${positionals.length}; --help for usage`);
  }
  const command = positionals[0];
  if (!["info", "tokenize", "detokenize", "logits", "eval-finite", "render", "embed"].includes(command)) {
    throw new UsageError(`unknown command "${command}"`);
  }
  if (!values.model) throw new UsageError("--model M.gguf is required");
  if (!fs.existsSync(values.model)) throw new UsageError(`--model ${values.model}: no such file`);
  if (!(values.pooling in POOLING_TYPES)) {
    throw new UsageError(`--pooling: expected one of ${Object.keys(POOLING_TYPES).join(", ")}, found "${values.pooling}"`);
  }
  if (!["auto", "on", "off"].includes(values["flash-attn"])) {
    throw new UsageError(`--flash-attn: expected auto, on or off, found "${values["flash-attn"]}"`);
  }
  for (const key of ["top", "threads"]) {
    if (values[key] !== undefined && !/^\d+$/.test(values[key])) {
      throw new UsageError(`--${key}: expected a non-negative integer, found "${values[key]}"`);
    }
  }
  return { command, opts: values };
}

async function loadLlama(opts) {
  const { getLlama } = await import("node-llama-cpp");
  // CPU only, prebuilt binary only: never build from source, never download anything.
  const llama = await getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: opts["log-level"],
    logger: capture,
    ...(opts.threads !== undefined ? { maxThreads: Number(opts.threads) } : {}),
  });
  return llama;
}

async function loadModel(llama, opts, { vocabOnly = false } = {}) {
  try {
    return await llama.loadModel({ modelPath: path.resolve(opts.model), gpuLayers: 0, vocabOnly });
  } catch (e) {
    const errors = captured.filter((l) => l.level === "error" || l.level === "fatal").map((l) => l.message);
    throw new Error(`cannot load ${opts.model}: ${e.message}${errors.length ? " (llama.cpp: " + errors.join("; ") + ")" : ""}`);
  }
}

function vocabSize(model) {
  const tokens = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens;
  if (Array.isArray(tokens)) return tokens.length;
  let n = 0;
  for (const _ of model.iterateAllTokens()) n++;
  return n;
}

function checkTokens(tokens, nVocab, what) {
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= nVocab) {
      throw new UsageError(`${what}: token ${t} outside [0, ${nVocab})`);
    }
  }
}

// ---- info

async function cmdInfo(llama, opts) {
  const model = await loadModel(llama, opts);
  const meta = model.fileInfo.metadata;
  const tok = meta?.tokenizer?.ggml ?? {};
  const nVocab = vocabSize(model);
  const eog = [];
  for (let t = 0; t < nVocab; t++) if (model.isEogToken(t)) eog.push(t);
  let nParams = null;
  // llama_model_n_params; node-llama-cpp has no public getter, so use the addon's if it is there.
  if (typeof model._model?.getTotalParameters === "function") nParams = model._model.getTotalParameters();
  let nParamsGguf = 0;
  for (const t of model.fileInfo.tensorInfo ?? []) nParamsGguf += t.dimensions.reduce((a, b) => a * Number(b), 1);
  const idOf = (v) => (typeof v === "number" ? v : null);
  return {
    command: "info",
    model: opts.model,
    architecture: meta?.general?.architecture ?? null,
    name: meta?.general?.name ?? null,
    description: model.typeDescription,
    n_vocab: nVocab,
    vocabulary_type: model.vocabularyType,
    tokenizer_model: tok.model ?? null,
    special_tokens: {
      bos: model.tokens.bos,
      eos: model.tokens.eos,
      eot: model.tokens.eot,
      nl: model.tokens.nl,
      bos_text: model.tokens.bosString,
      eos_text: model.tokens.eosString,
      // ids as written in the GGUF
      gguf_bos_token_id: idOf(tok.bos_token_id),
      gguf_eos_token_id: idOf(tok.eos_token_id),
      gguf_unknown_token_id: idOf(tok.unknown_token_id),
      gguf_padding_token_id: idOf(tok.padding_token_id),
      gguf_mask_token_id: idOf(tok.mask_token_id),
    },
    eog_tokens: eog,
    add_bos: model.tokens.shouldPrependBosToken,
    add_eos: model.tokens.shouldAppendEosToken,
    n_params: nParams,
    n_params_gguf_tensors: nParamsGguf,
    n_tensors: (model.fileInfo.tensorInfo ?? []).length,
    size_bytes: model.size,
    train_context: model.trainContextSize,
    embedding_length: model.embeddingVectorSize,
    n_layer: meta?.[meta?.general?.architecture]?.block_count ?? null,
    swa_size: model.fileInsights.swaSize ?? null,
    backend: backendInfo(llama),
    llama_log: captured,
  };
}

function backendInfo(llama) {
  return {
    gpu: llama.gpu,
    build_type: llama.buildType,
    llama_cpp_release: llama.llamaCppRelease?.release ?? null,
  };
}

// ---- tokenize / detokenize

function tokenizeInputs(opts) {
  const given = [opts.text !== undefined, opts["text-file"] !== undefined, opts["json-input"] !== undefined];
  if (given.filter(Boolean).length !== 1) throw new UsageError("tokenize: give exactly one of --text, --text-file, --json-input");
  if (opts.text !== undefined) return [opts.text];
  if (opts["text-file"] !== undefined) {
    try {
      return [fs.readFileSync(opts["text-file"], "utf8")];
    } catch (e) {
      throw new UsageError(`--text-file ${opts["text-file"]}: ${e.message}`);
    }
  }
  const list = readJsonFile(opts["json-input"], "--json-input");
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
    throw new UsageError(`--json-input ${opts["json-input"]}: expected an array of strings`);
  }
  return list;
}

async function cmdTokenize(llama, opts) {
  const texts = tokenizeInputs(opts);
  const model = await loadModel(llama, opts, { vocabOnly: true });
  const bos = model.tokens.bos;
  const withBos = (ids) => (opts["add-bos"] && bos !== null ? [bos, ...ids] : ids);
  const items = texts.map((text) => {
    const parsed = withBos(Array.from(model.tokenize(text, true)));
    const plain = withBos(Array.from(model.tokenize(text, false)));
    const tokens = opts.special ? parsed : plain;
    return {
      text,
      tokens,
      n_tokens: tokens.length,
      tokens_parse_special: parsed,
      tokens_no_parse_special: plain,
    };
  });
  return {
    command: "tokenize",
    model: opts.model,
    special: opts.special,
    bos_added: opts["add-bos"],
    bos: bos,
    note: "node-llama-cpp's tokenize never adds BOS (llama_tokenize with add_special=false); with --add-bos the BOS id is prepended here. " +
      "\"tokens\" is tokens_parse_special with --special, else tokens_no_parse_special.",
    items,
    llama_log: captured,
  };
}

async function cmdDetokenize(llama, opts) {
  let lists;
  if (opts["json-input"] !== undefined) {
    lists = readJsonFile(opts["json-input"], "--json-input");
    if (!Array.isArray(lists) || !lists.every((l) => Array.isArray(l) && l.every(Number.isInteger))) {
      throw new UsageError(`--json-input ${opts["json-input"]}: expected an array of arrays of token ids`);
    }
  } else if (opts.tokens !== undefined) {
    lists = [parseIntList(opts.tokens, "--tokens")];
  } else {
    throw new UsageError("detokenize: give --tokens or --json-input");
  }
  const model = await loadModel(llama, opts, { vocabOnly: true });
  const nVocab = vocabSize(model);
  const items = lists.map((tokens) => {
    checkTokens(tokens, nVocab, "detokenize");
    return {
      tokens,
      text: model.detokenize(tokens, opts.special),
      pieces: tokens.map((t) => model.detokenize([t], opts.special)),
    };
  });
  return { command: "detokenize", model: opts.model, special: opts.special, items, llama_log: captured };
}

// ---- logits

function resolvePositions(spec, n) {
  if (spec === undefined || spec === "") spec = "-1";
  if (spec === "all") return Array.from({ length: n }, (_, i) => i);
  return parseIntList(spec, "--positions").map((p) => {
    const r = p < 0 ? n + p : p;
    if (r < 0 || r >= n) throw new UsageError(`--positions: ${p} outside a sequence of ${n} tokens`);
    return r;
  });
}

// Evaluates `tokens` in a fresh context as one batch (batch size = sequence length, so one llama_decode)
// and returns the raw logits after each position in `positions`. controlledEvaluate with no sampling
// options runs a greedy-only sampler chain, which does not change logits: no bias, no penalties, no
// temperature. These are llama.cpp's output logits, after the final softcap.
async function evaluateLogits(model, tokens, positions, opts, onPosition) {
  const n = tokens.length;
  const flash = { auto: "auto", on: true, off: false }[opts["flash-attn"]];
  const ctx = await model.createContext({
    contextSize: n,
    batchSize: n,
    sequences: 1,
    flashAttention: flash,
    ...(opts.threads !== undefined ? { threads: Number(opts.threads) } : {}),
  });
  try {
    const seq = ctx.getSequence();
    const wanted = new Set(positions);
    const input = tokens.map((t, i) => (wanted.has(i) ? [t, { generateNext: { logits: true } }] : t));
    await seq.controlledEvaluate(input, {
      onTokenResult(index, result) {
        const map = result.next.logits;
        onPosition(index, map);
        delete result.next.logits;  // the result array keeps the object; keep it small
      },
    });
    return { context_size: ctx.contextSize, batch_size: ctx.batchSize, flash_attention: ctx.flashAttention };
  } finally {
    await ctx.dispose();
  }
}

function summarize(map, nVocab, topN) {
  const values = new Float32Array(nVocab).fill(NaN);
  let finite = map.size === nVocab;
  let nonFinite = 0;
  for (const [id, v] of map) {
    values[id] = v;
    if (!Number.isFinite(v)) nonFinite++;
  }
  if (nonFinite > 0) finite = false;
  // The map is sorted by logit, highest first.
  const top = [];
  for (const [id, v] of map) {
    if (top.length >= topN) break;
    top.push([id, v]);
  }
  let min = Infinity, max = -Infinity, sum = 0;
  for (let i = 0; i < nVocab; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { values, finite, non_finite: nonFinite + (nVocab - map.size), top, min, max, mean: sum / nVocab };
}

function logitsInputs(opts) {
  if (opts["json-input"] !== undefined) {
    const list = readJsonFile(opts["json-input"], "--json-input");
    const items = Array.isArray(list) ? list : [list];
    return items.map((it, i) => {
      if (!it || !Array.isArray(it.tokens) || !it.tokens.every(Number.isInteger)) {
        throw new UsageError(`--json-input item ${i}: expected {"tokens": [ids], "positions": [ints] | "all"}`);
      }
      const positions = it.positions === undefined ? undefined : Array.isArray(it.positions) ? it.positions.join(",") : String(it.positions);
      return { tokens: it.tokens, positions };
    });
  }
  if (opts.tokens === undefined) throw new UsageError("logits: give --tokens or --json-input");
  return [{ tokens: parseIntList(opts.tokens, "--tokens"), positions: opts.positions }];
}

async function cmdLogits(llama, opts) {
  const inputs = logitsInputs(opts);
  const topN = opts.top !== undefined ? Number(opts.top) : 10;
  const model = await loadModel(llama, opts);
  const nVocab = vocabSize(model);
  const fullOut = opts["full-out"] !== undefined ? fs.openSync(opts["full-out"], "w") : null;
  const items = [];
  try {
    for (const input of inputs) {
      if (input.tokens.length === 0) throw new UsageError("logits: empty token sequence");
      checkTokens(input.tokens, nVocab, "logits");
      const positions = resolvePositions(input.positions, input.tokens.length);
      const byPosition = new Map();
      const ctxInfo = await evaluateLogits(model, input.tokens, positions, opts, (index, map) => {
        const s = summarize(map, nVocab, topN);
        const out = {
          position: index,
          token: input.tokens[index],
          finite: s.finite,
          non_finite: s.non_finite,
          argmax: s.top.length ? s.top[0][0] : null,
          min: s.min,
          max: s.max,
          mean: s.mean,
          top: s.top,
        };
        if (opts.full) out.logits_f32le_base64 = Buffer.from(s.values.buffer).toString("base64");
        byPosition.set(index, { out, values: fullOut !== null ? s.values : null });
      });
      const results = positions.map((p) => {
        const r = byPosition.get(p);
        if (!r) throw new Error(`no logits came back for position ${p}`);
        if (fullOut !== null) fs.writeSync(fullOut, Buffer.from(r.values.buffer));
        return r.out;
      });
      items.push({ n_tokens: input.tokens.length, tokens: input.tokens, ...ctxInfo, positions: results });
    }
  } finally {
    if (fullOut !== null) fs.closeSync(fullOut);
  }
  return {
    command: "logits",
    model: opts.model,
    n_vocab: nVocab,
    note: "raw llama.cpp logits (after the final softcap), no sampling; position i = prediction after token i; " +
      "tokens are used exactly as given (no BOS added)" +
      (opts["full-out"] ? `; ${opts["full-out"]} holds one little-endian f32 row of n_vocab per listed position, items in order` : ""),
    all_finite: items.every((it) => it.positions.every((p) => p.finite)),
    items,
    backend: backendInfo(llama),
    llama_log: captured,
  };
}

async function cmdEvalFinite(llama, opts) {
  const model = await loadModel(llama, opts);
  const nVocab = vocabSize(model);
  const text = opts.text ?? "Hello";
  const bos = model.tokens.bos;
  if (bos === null) throw new Error("model has no BOS token");
  const tokens = [bos, ...model.tokenize(text, false)];
  let result = null;
  const ctxInfo = await evaluateLogits(model, tokens, [tokens.length - 1], opts, (index, map) => {
    result = summarize(map, nVocab, opts.top !== undefined ? Number(opts.top) : 5);
  });
  if (result === null) throw new Error("no logits came back");
  return {
    command: "eval-finite",
    model: opts.model,
    text,
    tokens,
    finite: result.finite,
    non_finite: result.non_finite,
    n_vocab: nVocab,
    top: result.top,
    min: result.min,
    max: result.max,
    ...ctxInfo,
    backend: backendInfo(llama),
    llama_log: captured,
  };
}

// ---- render

// The chat template is rendered by @huggingface/jinja (a dependency of node-llama-cpp), called directly with
// the context as given: node-llama-cpp's JinjaTemplateChatWrapper would first convert the messages to its own
// history format, which has no tool_call ids, tool-result names or content parts.
async function cmdRender(llama, opts) {
  if (opts["json-input"] === undefined) throw new UsageError("render: --json-input F is required");
  const contexts = readJsonFile(opts["json-input"], "--json-input");
  if (!Array.isArray(contexts) || !contexts.every((c) => c && typeof c === "object" && Array.isArray(c.messages))) {
    throw new UsageError(`--json-input ${opts["json-input"]}: expected an array of {messages: [...], ...}`);
  }
  const { Template } = await import("@huggingface/jinja");
  const model = await loadModel(llama, opts, { vocabOnly: true });
  const meta = model.fileInfo.metadata;
  const source = meta?.tokenizer?.chat_template;
  if (typeof source !== "string") throw new Error(`${opts.model} has no tokenizer.chat_template`);
  const template = new Template(source);
  const bosId = meta?.tokenizer?.ggml?.bos_token_id;
  const bosToken = Number.isInteger(bosId) ? meta.tokenizer.ggml.tokens[bosId] : "";
  const items = contexts.map((context) => {
    try {
      const text = template.render({ bos_token: bosToken, add_generation_prompt: false, ...context });
      return { text, tokens: Array.from(model.tokenize(text, true)) };
    } catch (e) {
      return { error: e.message || String(e) };
    }
  });
  return { command: "render", model: opts.model, renderer: "@huggingface/jinja", bos_token: bosToken, items, llama_log: captured };
}

// ---- embed

// llama_pooling_type values; "model" keeps what the GGUF says (ARCH.pooling_type), which for gemma4 files is
// absent, so llama.cpp pools nothing and node-llama-cpp returns the last token's vector.
const POOLING_TYPES = { model: null, none: 0, mean: 1, cls: 2, last: 3 };

function embedInputs(opts) {
  const given = [opts.text !== undefined, opts.tokens !== undefined, opts["json-input"] !== undefined];
  if (given.filter(Boolean).length !== 1) throw new UsageError("embed: give exactly one of --text, --tokens, --json-input");
  if (opts.text !== undefined) return [{ text: opts.text }];
  if (opts.tokens !== undefined) return [{ tokens: parseIntList(opts.tokens, "--tokens") }];
  const list = readJsonFile(opts["json-input"], "--json-input");
  if (!Array.isArray(list)) throw new UsageError(`--json-input ${opts["json-input"]}: expected an array`);
  return list.map((it, i) => {
    if (typeof it === "string") return { text: it };
    if (it && Array.isArray(it.tokens) && it.tokens.every(Number.isInteger)) return { tokens: it.tokens };
    throw new UsageError(`--json-input item ${i}: expected a string or {"tokens": [ids]}`);
  });
}

// node-llama-cpp exposes no pooling option for an embedding context; llama.cpp takes the pooling type from
// the model's metadata when the context does not name one, so a metadata override of ARCH.pooling_type
// chooses it. The context is one batch as long as the longest input: llama.cpp pools within one physical
// batch (a longer input would be pooled over its last batch only).
async function cmdEmbed(llama, opts) {
  const inputs = embedInputs(opts);
  const { readGgufFileInfo } = await import("node-llama-cpp");
  const info = await readGgufFileInfo(path.resolve(opts.model), { readTensorInfo: false, logWarnings: false, ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"] });
  const arch = info.metadata?.general?.architecture;
  if (typeof arch !== "string") throw new Error(`${opts.model} names no general.architecture`);
  const fromFile = info.metadata?.[arch]?.pooling_type;
  const poolingType = POOLING_TYPES[opts.pooling] ?? (Number.isInteger(fromFile) ? fromFile : 0);
  const metadataOverrides = POOLING_TYPES[opts.pooling] === null ? undefined : { [arch]: { pooling_type: poolingType } };
  let model;
  try {
    model = await llama.loadModel({ modelPath: path.resolve(opts.model), gpuLayers: 0, metadataOverrides });
  } catch (e) {
    const errors = captured.filter((l) => l.level === "error" || l.level === "fatal").map((l) => l.message);
    throw new Error(`cannot load ${opts.model}: ${e.message}${errors.length ? " (llama.cpp: " + errors.join("; ") + ")" : ""}`);
  }
  const nVocab = vocabSize(model);
  const probe = await model.createEmbeddingContext({ contextSize: 16, batchSize: 16 });
  // The exact tokens evaluated: a text tokenized as getEmbeddingFor tokenizes it (no special parsing), then
  // BOS / EOS added by the context's own rule (its internal _prepareInput, which getEmbeddingFor calls), which
  // leaves a list that already has them as it is.
  const prepared = inputs.map((input) => {
    const tokens = input.text !== undefined ? Array.from(model.tokenize(input.text, false)) : input.tokens.slice();
    probe._prepareInput(tokens);
    checkTokens(tokens, nVocab, "embed");
    return tokens;
  });
  await probe.dispose();
  const longest = Math.max(...prepared.map((t) => t.length));
  if (longest === 0) throw new UsageError("embed: empty input");
  // (An embedding context takes no flash-attention option: llama.cpp's default, auto, applies.)
  const ctx = await model.createEmbeddingContext({
    contextSize: longest + 1,  // getEmbeddingFor wants the input shorter than the context
    batchSize: longest + 1,
    ...(opts.threads !== undefined ? { threads: Number(opts.threads) } : {}),
  });
  const items = [];
  try {
    for (let i = 0; i < inputs.length; i++) {
      const tokens = prepared[i];
      if (tokens.length === 0) throw new UsageError(`embed: input ${i} has no tokens`);
      const raw = (await ctx.getEmbeddingFor(tokens)).vector;
      // L2 normalization as llama.cpp's common_embd_normalize (embd_normalize 2, llama-server's default for
      // pooled embeddings): the sum of squares in double, one f32 factor.
      let ss = 0;
      for (const x of raw) ss += Math.fround(x * x);
      const inv = ss > 0 ? Math.fround(1 / Math.sqrt(ss)) : 0;
      items.push({
        ...(inputs[i].text !== undefined ? { text: inputs[i].text } : {}),
        tokens,
        n_tokens: tokens.length,
        norm: Math.sqrt(ss),
        embedding: Array.from(raw),
        embedding_normalized: Array.from(raw, (x) => Math.fround(x * inv)),
      });
    }
  } finally {
    await ctx.dispose();
  }
  const poolingName = Object.keys(POOLING_TYPES).find((k) => POOLING_TYPES[k] === poolingType) ?? String(poolingType);
  return {
    command: "embed",
    model: opts.model,
    architecture: arch,
    pooling: poolingName,
    pooling_from: POOLING_TYPES[opts.pooling] === null ? (Number.isInteger(fromFile) ? "gguf" : "llama.cpp default (none)") : "--pooling (metadata override)",
    n_embd: model.embeddingVectorSize,
    note: "embedding = llama.cpp's embedding output (post-output_norm hidden state); pooling none: the last token's " +
      "vector (llama_get_embeddings_ith(-1)), else llama_get_embeddings_seq; whole input in one batch; " +
      "embedding_normalized = L2-normalized as llama-server does for pooled embeddings",
    items,
    backend: backendInfo(llama),
    llama_log: captured,
  };
}

// ---- main

async function main() {
  let command, opts;
  try {
    ({ command, opts } = parseCommandLine(process.argv.slice(2)));
  } catch (e) {
    fail(e.message, 2);
  }
  verbose = opts.verbose;
  let answer;
  let llama = null;
  try {
    llama = await loadLlama(opts);
    const run = { info: cmdInfo, tokenize: cmdTokenize, detokenize: cmdDetokenize, logits: cmdLogits, "eval-finite": cmdEvalFinite, render: cmdRender, embed: cmdEmbed }[command];
    answer = await run(llama, opts);
  } catch (e) {
    fail(e instanceof UsageError ? e.message : e.message || String(e), e instanceof UsageError ? 2 : 1);
  }
  const exitCode = command === "eval-finite" && !answer.finite ? 1 : 0;
  process.stdout.write(JSON.stringify(answer) + "\n", () => {
    if (exitCode !== 0) process.stderr.write(`oracle: non-finite logits at the last position of ${opts.model}\n`);
    // llama.dispose() can take a while for big models; the process ends anyway.
    process.exit(exitCode);
  });
}

main();
