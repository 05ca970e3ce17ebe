#!/usr/bin/env bash
# `locus serve` end to end on a tiny random model, with curl on loopback only: the liveness probe and version,
# Ollama chat streamed and not (ending in done:true), OpenAI chat streamed (ending in [DONE]) and not, a JSON
# format answer that parses, /metrics counting the work, logprobs on both APIs (shapes, counts, 400s), /api/show
# of a store model, delete unloading it, 404 for an unknown model, 401 with a key set, and a client that
# disconnects mid-stream freeing its slot (with one slot, a later request still completes).
# usage: serve_api.sh LOCUS LOCUS_MKMODEL
set -u
locus=$1 mkmodel=$2
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

"$mkmodel" --preset tiny --type Q8_0 --layers 1 -q -o "$dir/m.gguf" || { echo "mkmodel failed"; exit 1; }
gguf="$dir/m.gguf"
model=m  # requests name models, never files: the server serves the GGUF under this name (--model)


start_server() {  # extra env assignments as arguments
  port=$(free_port)
  # One slot with a long context and no loop guard: a request asking for 100000 tokens would hold the slot for
  # minutes, so the disconnect check below fails unless the disconnect really frees it.
  env LOCUS_MODELS="$dir/store" "$@" "$locus" serve --host "127.0.0.1:$port" --slots 1 --ctx 32768 \
    --loop-guard 0 --threads 2 --model "$model=$gguf" >"$dir/out" 2>"$dir/log" &
  pid=$!
  wait_for_server "$port" || exit 1
}
stop_server() { kill "$pid"; wait "$pid"; local rc=$?; pid=; return $rc; }

base() { echo "http://127.0.0.1:$port"; }
chat='{"model":"'"$model"'","messages":[{"role":"user","content":"Hello"}],"options":{"num_predict":8,"seed":1}'

start_server
[ "$(curl -s "$(base)/")" = "Ollama is running" ] && ok "GET /" || bad "GET /"
curl -s "$(base)/api/version" | grep -q '"version"' && ok "GET /api/version" || bad "GET /api/version"

out=$(curl -s -D "$dir/h" "$(base)/api/chat" -d "$chat,\"stream\":false}")
if echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["done"] is True and "content" in j["message"]' \
   && grep -qi '^x-locus-route: local' "$dir/h"; then ok "/api/chat non-stream"; else bad "/api/chat non-stream: $out"; fi

out=$(curl -sN "$(base)/api/chat" -d "$chat}")
if echo "$out" | tail -n 1 | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["done"] is True and j["eval_count"] > 0'
then ok "/api/chat stream ends with done:true"; else bad "/api/chat stream: $out"; fi

oai='{"model":"'"$model"'","messages":[{"role":"user","content":"Hello"}],"max_tokens":8,"seed":1'
out=$(curl -s "$(base)/v1/chat/completions" -d "$oai}")
echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["object"]=="chat.completion" and j["choices"][0]["finish_reason"]' \
  && ok "/v1/chat/completions non-stream" || bad "/v1/chat/completions non-stream: $out"
out=$(curl -sN "$(base)/v1/chat/completions" -d "$oai,\"stream\":true}")
[ "$(echo "$out" | grep -v '^$' | tail -n 1)" = "data: [DONE]" ] && ok "/v1/chat/completions stream ends with [DONE]" \
  || bad "/v1/chat/completions stream: $out"

# /metrics after four 8-token answers (two streamed): every answer's tokens after its first came from decode
# steps, the streams' chunks were written and timed.
# (The last request's slot is freed just after its answer ends: wait for it.)
for _ in $(seq 1 20); do
  curl -s "$(base)/metrics" >"$dir/metrics"
  grep -q '^locus_requests_active 0$' "$dir/metrics" && break
  sleep 0.1
done
if python3 - "$dir/metrics" <<'PY'
import sys
v = {}
for line in open(sys.argv[1]):
    if line.startswith('#') or not line.strip(): continue
    name, value = line.split()
    v[name] = float(value)
assert v['locus_requests_total'] == 4, v
assert v['locus_decode_tokens_total'] >= 4 * 7 - 4, v   # an answer may end early on EOS
assert v['locus_http_chunks_written_total'] >= 2, v
assert v['locus_http_write_seconds_total'] > 0, v
assert v['locus_model_decode_seconds_total'] > 0 and v['locus_server_sink_seconds_total'] > 0, v
assert v['locus_scheduler_round_seconds_total'] >= v['locus_model_decode_seconds_total'] + v['locus_token_step_seconds_total'], v
assert v['locus_models_loaded'] == 1 and v['locus_requests_active'] == 0, v
PY
then ok "GET /metrics counts the work"; else bad "GET /metrics: $(cat "$dir/metrics")"; fi

out=$(curl -s "$(base)/api/chat" -d '{"model":"'"$model"'","messages":[{"role":"user","content":"JSON please"}],"format":"json","stream":false,"options":{"num_predict":48,"seed":3,"repeat_penalty":1.3}}')
content=$(echo "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["message"]["content"]); print(j["done_reason"], file=sys.stderr)' 2>"$dir/reason")
if [ "$(cat "$dir/reason")" = "stop" ]; then
  echo "$content" | python3 -c 'import json,sys; assert isinstance(json.loads(sys.stdin.read()), dict)' \
    && ok "format json answer parses" || bad "format json: '$content'"
else
  echo "ok   format json (cut by num_predict before the object closed: $(cat "$dir/reason"); not parsed)"
fi

# Logprobs on both APIs, streamed and not: one entry per generated token (the end-of-turn token has none), the
# chosen token's value within the top list's range, top lists of the size asked and sorted, bytes = the token's
# UTF-8; 400s for bad values.
if python3 - "$(base)" "$model" <<'PY'
import json, sys, urllib.error, urllib.request
base, model = sys.argv[1], sys.argv[2]
def post(path, body, stream=False):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {'Content-Type': 'application/json'})
    with urllib.request.urlopen(req) as r:
        text = r.read().decode()
    if not stream: return json.loads(text)
    if path.startswith('/v1'):
        return [json.loads(l[6:]) for l in text.split('\n') if l.startswith('data: {')]
    return [json.loads(l) for l in text.split('\n') if l.strip()]
def status(path, body):
    try:
        post(path, body); return 200, None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def check_entry(e, n_top, top_key='top_logprobs'):
    assert isinstance(e['token'], str) and e['logprob'] <= 0, e
    if '\ufffd' not in e['token']: assert bytes(e['bytes']).decode() == e['token'], e
    top = e.get(top_key, [])
    assert len(top) == n_top, e
    lps = [t['logprob'] for t in top]
    assert lps == sorted(lps, reverse=True), e
    if top:
        assert e['logprob'] <= top[0]['logprob'] + 1e-6, e
        for t in top:
            if t['token'] == e['token'] and t['bytes'] == e['bytes']: assert abs(t['logprob'] - e['logprob']) < 1e-6, e
msgs = [{'role': 'user', 'content': 'Hello'}]
# Untruncated sampling: the random model's favourite is a marker the parser drops, so this makes text chunks.
o = {'num_predict': 8, 'seed': 1, 'top_k': 0, 'top_p': 1, 'temperature': 1}
j = post('/api/chat', {'model': model, 'messages': msgs, 'options': o, 'stream': False, 'logprobs': True, 'top_logprobs': 2})
assert len(j['logprobs']) == j['eval_count'] - (j['done_reason'] == 'stop'), j
for e in j['logprobs']: check_entry(e, 2)
lines = post('/api/generate', {'model': model, 'prompt': 'Hello', 'options': o, 'stream': True, 'logprobs': True},
             stream=True)
assert lines[-1]['done'] and all('error' not in l for l in lines), lines
entries = [e for l in lines for e in l.get('logprobs', [])]
assert len(entries) == lines[-1]['eval_count'] - (lines[-1]['done_reason'] == 'stop'), lines
for e in entries: check_entry(e, 0)
text_lines = [l for l in lines[:-1] if l['response']]
assert text_lines and all(l.get('logprobs') for l in text_lines), lines  # a chunk with text carries its tokens
oai = {'model': model, 'messages': msgs, 'max_tokens': 8, 'seed': 1, 'logprobs': True, 'top_logprobs': 3}
j = post('/v1/chat/completions', oai)
c = j['choices'][0]
assert c['logprobs']['refusal'] is None and len(c['logprobs']['content']) == \
    j['usage']['completion_tokens'] - (c['finish_reason'] != 'length'), j
for e in c['logprobs']['content']: check_entry(e, 3)
assert j['usage']['completion_tokens_details']['reasoning_tokens'] == 0, j
chunks = post('/v1/chat/completions', dict(oai, stream=True, stream_options={'include_usage': True}), stream=True)
entries = [e for ch in chunks if ch['choices'] and ch['choices'][0]['logprobs'] for e in ch['choices'][0]['logprobs']['content']]
finish = [ch['choices'][0]['finish_reason'] for ch in chunks if ch['choices'] and ch['choices'][0]['finish_reason']][0]
assert len(entries) == chunks[-1]['usage']['completion_tokens'] - (finish != 'length'), chunks
for e in entries: check_entry(e, 3)
j = post('/v1/completions', {'model': model, 'prompt': 'Hello', 'max_tokens': 8, 'seed': 1, 'logprobs': 2})
lp = j['choices'][0]['logprobs']
n = len(lp['tokens'])
assert n == j['usage']['completion_tokens'] - (j['choices'][0]['finish_reason'] != 'length'), j
assert len(lp['token_logprobs']) == n and len(lp['top_logprobs']) == n and len(lp['text_offset']) == n, j
assert lp['text_offset'] == sorted(lp['text_offset']) and all(1 <= len(t) <= 2 for t in lp['top_logprobs']), j
j = post('/v1/chat/completions', dict(oai, logprobs=False, top_logprobs=0))
assert j['choices'][0]['logprobs'] is None, j
code, err = status('/api/chat', {'model': model, 'messages': msgs, 'logprobs': True, 'top_logprobs': 21})
assert code == 400 and 'top_logprobs' in err['error'], (code, err)
code, err = status('/v1/chat/completions', dict(oai, top_logprobs=-1))
assert code == 400 and err['error']['param'] == 'top_logprobs', (code, err)
code, err = status('/v1/chat/completions', dict(oai, logprobs=False, top_logprobs=2))
assert code == 400 and err['error']['param'] == 'top_logprobs' and err['error']['type'] == 'invalid_request_error', (code, err)
PY
then ok "logprobs on /api/chat, /api/generate, /v1/chat/completions, /v1/completions"; else bad "logprobs"; fi

code=$(curl -s -o "$dir/body" -w '%{http_code}' "$(base)/api/chat" -d '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}')
[ "$code" = 404 ] && grep -q 'not found' "$dir/body" && ok "unknown model: 404" || bad "unknown model: $code $(cat "$dir/body")"

# Disconnect mid-stream: a long answer on the only slot, cut after its first bytes; the next request must
# still complete (the slot was freed, not held until num_predict).
long='{"model":"'"$model"'","messages":[{"role":"user","content":"Hello"}],"options":{"num_predict":100000}}'
curl -sN --max-time 1 "$(base)/api/chat" -d "$long" >/dev/null 2>&1
out=$(curl -s --max-time 30 "$(base)/api/chat" -d "$chat,\"stream\":false}")
echo "$out" | grep -q '"done":true' && ok "disconnect frees the slot" || bad "after a disconnect: $out"

# A store model: /api/show gives its parameters as `ollama show` prints them and its license; deleting it while it
# is loaded unloads it.
printf 'FROM %s\nPARAMETER temperature 0.5\nPARAMETER stop "<end>"\nLICENSE """Test licence"""\n' "$gguf" >"$dir/Modelfile"
LOCUS_MODELS="$dir/store" LOCUS_HOST=127.0.0.1:1 "$locus" create del:test -f "$dir/Modelfile" >/dev/null 2>&1 \
  || bad "locus create del:test"
out=$(curl -s "$(base)/api/show" -d '{"model":"del:test"}')
echo "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
lines = sorted(j["parameters"].splitlines())
assert lines == ["stop" + " " * 27 + "\"<end>\"", "temperature" + " " * 20 + "0.5"], lines
assert j["license"] == "Test licence", j.get("license")
assert "PARAMETER temperature 0.5" in j["modelfile"] and "LICENSE" in j["modelfile"], j["modelfile"]
assert j["details"]["format"] == "gguf" and "completion" in j["capabilities"]' \
  && ok "/api/show: parameters, license, modelfile" || bad "/api/show of a store model: $out"
curl -s "$(base)/api/generate" -d '{"model":"del:test","keep_alive":-1}' >/dev/null
if curl -s "$(base)/api/ps" | grep -q '"del:test"'; then
  curl -s -X DELETE "$(base)/api/delete" -d '{"model":"del:test"}' >/dev/null
  gone=0
  for _ in $(seq 1 30); do
    curl -s "$(base)/api/ps" | grep -q '"del:test"' || { gone=1; break; }
    sleep 0.1
  done
  [ $gone = 1 ] && ok "deleting a loaded model unloads it" || bad "deleted model still loaded: $(curl -s "$(base)/api/ps")"
else
  bad "del:test did not load: $(curl -s "$(base)/api/ps")"
fi

grep -q '"route":"local"' "$dir/log" && ok "access log lines" || bad "no access log: $(tail -n 3 "$dir/log")"
stop_server && ok "SIGTERM exits 0" || bad "SIGTERM exit code"

start_server LOCUS_API_KEY=k123
code=$(curl -s -o /dev/null -w '%{http_code}' "$(base)/api/tags")
[ "$code" = 401 ] && ok "no key: 401" || bad "no key: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer k123' "$(base)/api/tags")
[ "$code" = 200 ] && ok "with key: 200" || bad "with key: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$(base)/")
[ "$code" = 200 ] && ok "GET / open with a key" || bad "GET / with a key: $code"
stop_server

exit $fail
