#!/usr/bin/env bash
# Issue 12 §2 end to end: over HTTP a model is a name, never a file. With a tiny model that loads kept outside
# the store: bad --model / --model-dir / LOCUS_MODEL_FILES values stop `locus serve` at start with one clear
# line and a non-zero exit; the files it serves by name answer on every route (chat, generate, OpenAI, embeddings,
# show, /api/tags, /v1/models, ps, unload); and the file's own path, traversal spellings and /etc/passwd get a
# 404 in the route's envelope (Ollama's, or OpenAI's with code model_not_found) on every route that takes a
# model, never a 500 and never a byte of the file, and nothing is ever loaded by path. Then projectors: bad
# ones stop the server at start, and a served file's capabilities and projector_info follow the projector it was
# given or found beside it (said at start). Loopback only.
# usage: serve_models.sh LOCUS LOCUS_MKMODEL
set -u
locus=$1 mkmodel=$2
. "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"

mkdir -p "$dir/outside" "$dir/served" "$dir/store"
"$mkmodel" --preset tiny --type Q8_0 --layers 1 -q -o "$dir/outside/m.gguf" || { echo "mkmodel failed"; exit 1; }
gguf="$dir/outside/m.gguf"
cp "$gguf" "$dir/served/from-dir.gguf"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$dir/passwd"

# Start-up errors: the server must exit non-zero before listening, with a line that says what was wrong.
startup_fails() {  # name, expected text, then env assignments and serve flags
  local name=$1 want=$2
  shift 2
  local port
  port=$(free_port)
  local envs=()
  while [ $# -gt 0 ] && [[ $1 == *=* && $1 != --* ]]; do envs+=("$1"); shift; done
  timeout 20 env LOCUS_MODELS="$dir/store" "${envs[@]}" "$locus" serve --host "127.0.0.1:$port" "$@" \
    >/dev/null 2>"$dir/err"
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF -- "$want" "$dir/err"; then
    ok "start-up refused: $name (exit $rc)"
  else
    bad "start-up: $name: exit $rc, stderr: $(cat "$dir/err")"
  fi
}
startup_fails "--model without NAME=" "expected NAME=PATH" --model "$gguf"
startup_fails "--model with no path" "no path after '='" --model "m="
startup_fails "--model missing file" "does not exist" --model "m=$dir/nope.gguf"
startup_fails "--model not a GGUF" 'is not a GGUF file: expected magic "GGUF"' --model "m=$dir/passwd"
startup_fails "--model a folder" "found a folder" --model "m=$dir/outside"
startup_fails "--model invalid name" 'invalid model name "../m"' --model "../m=$gguf"
startup_fails "--model name twice" "is given twice: by --model m=$gguf and by --model M:latest=" --model "m=$gguf" \
  --model "M:latest=$gguf"
startup_fails "--model-dir missing" "no such folder" --model-dir "$dir/none"
startup_fails "--model-dir without GGUFs" "found none" --model-dir "$dir/store"
startup_fails "LOCUS_MODEL_FILES not a GGUF" "is not a GGUF file" "LOCUS_MODEL_FILES=a=$gguf,b=$dir/passwd"
startup_fails "LOCUS_MODEL_DIR missing" "no such folder" "LOCUS_MODEL_DIR=$dir/none"
startup_fails "env and flag give one name" "is given twice" "LOCUS_MODEL_FILES=m=$gguf" --model "m=$gguf"
# Projectors (mmproj) of served files: the one asked for is checked, --mmproj is for one model, and two that fit
# beside a model are refused rather than guessed between.
"$mkmodel" --preset tiny -q --mmproj "$dir/mmproj-tiny.gguf" || { echo "mkmodel --mmproj failed"; exit 1; }
"$mkmodel" --preset mid -q --mmproj "$dir/mmproj-mid.gguf" || { echo "mkmodel --mmproj failed"; exit 1; }
mkdir -p "$dir/vision" "$dir/two"
ln "$gguf" "$dir/vision/m.gguf" && cp "$dir/mmproj-tiny.gguf" "$dir/vision/mmproj-m.gguf"
ln "$gguf" "$dir/two/m.gguf" && cp "$dir/mmproj-tiny.gguf" "$dir/two/mmproj-F16.gguf" \
  && cp "$dir/mmproj-tiny.gguf" "$dir/two/mmproj-F32.gguf"
startup_fails "--mmproj with two models" "applies when one model is served, found 2" --model "a=$gguf" \
  --model "b=$gguf" --mmproj "$dir/mmproj-tiny.gguf"
startup_fails "mmproj= not a projector" "does not read as GGUF" --model "m=$gguf,mmproj=$dir/passwd"
startup_fails "mmproj= a model" 'general.architecture: expected "clip"' --model "m=$gguf,mmproj=$gguf"
startup_fails "mmproj= missing" "does not exist" --model "m=$gguf,mmproj=$dir/nope.gguf"
startup_fails "--mmproj of another width" "projects to width 1024, the model's embedding length is 256" \
  --model "m=$gguf" --mmproj "$dir/mmproj-mid.gguf"
startup_fails "two projectors fit beside the model" "2 projectors beside it fit it (mmproj-F16.gguf, mmproj-F32.gguf" \
  --model "m=$dir/two/m.gguf"
startup_fails "--mmproj and --no-mmproj" "contradict" --model "m=$gguf" --mmproj "$dir/mmproj-tiny.gguf" --no-mmproj
startup_fails "LOCUS_MODEL_FILES with a bad mmproj" "does not read as GGUF" \
  "LOCUS_MODEL_FILES=a=$gguf,mmproj=$dir/passwd,b=$gguf"
"$locus" serve --help >"$dir/help" 2>&1
grep -q -- "--mmproj" "$dir/help" && grep -q -- "--no-mmproj" "$dir/help" && grep -q -- "mmproj=FILE" "$dir/help" \
  && ok "serve --help documents --mmproj, --no-mmproj and NAME=PATH,mmproj=FILE" || bad "serve --help: $(cat "$dir/help")"
"$locus" serve --help >"$dir/help" 2>&1
grep -q -- "--model " "$dir/help" && grep -q -- "--model-dir" "$dir/help" && grep -q LOCUS_MODEL_FILES "$dir/help" \
  && grep -q LOCUS_MODEL_DIR "$dir/help" && ok "serve --help documents --model, --model-dir and their variables" \
  || bad "serve --help: $(cat "$dir/help")"

port=$(free_port)
LOCUS_MODELS="$dir/store" LOCUS_MODEL_DIR="$dir/served" "$locus" serve --host "127.0.0.1:$port" --slots 1 --ctx 512 \
  --threads 2 --model "tiny=$gguf" >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1
grep -q "serving tiny:latest from $gguf" "$dir/log" && ok "the start-up log names the served files" \
  || bad "start-up log: $(cat "$dir/log")"

python3 - "http://127.0.0.1:$port" "$gguf" "$dir/passwd" <<'PY'
import json, sys, urllib.request, urllib.error, urllib.parse
base, gguf, passwd = sys.argv[1], sys.argv[2], sys.argv[3]
fails = 0

def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode(errors='replace')
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors='replace')

def check(name, cond, detail='', quiet=False):
    global fails
    if not cond or not quiet:
        print(('ok   ' if cond else 'FAIL ') + name + ('' if cond else ': ' + str(detail)[:400]))
    if not cond:
        fails += 1

hello = [{'role': 'user', 'content': 'Hello'}]
# Every route that takes a model, as (method, path, body for the model).
def routes(m):
    quoted = urllib.parse.quote(m, safe='')
    return [
        ('POST', '/api/chat', {'model': m, 'messages': hello, 'stream': False, 'options': {'num_predict': 2}}),
        ('POST', '/api/chat', {'model': m, 'messages': hello, 'options': {'num_predict': 2}}),  # streamed
        ('POST', '/api/generate', {'model': m, 'prompt': 'Hi', 'stream': False, 'options': {'num_predict': 2}}),
        ('POST', '/api/generate', {'model': m}),  # load only
        ('POST', '/api/generate', {'model': m, 'keep_alive': 0}),  # unload
        ('POST', '/api/embed', {'model': m, 'input': 'x'}),
        ('POST', '/api/embeddings', {'model': m, 'prompt': 'x'}),
        ('POST', '/api/show', {'model': m}),
        ('POST', '/api/show', {'name': m}),
        ('DELETE', '/api/delete', {'model': m}),
        ('POST', '/api/copy', {'source': m, 'destination': 'copied'}),
        ('POST', '/v1/chat/completions', {'model': m, 'messages': hello, 'max_tokens': 2}),
        ('POST', '/v1/chat/completions', {'model': m, 'messages': hello, 'max_tokens': 2, 'stream': True}),
        ('POST', '/v1/completions', {'model': m, 'prompt': 'Hi', 'max_tokens': 2}),
        ('POST', '/v1/embeddings', {'model': m, 'input': 'x'}),
        ('GET', '/v1/models/' + quoted, None),
    ]

# The served names work everywhere (delete and copy refuse a served file: it is not the store's).
for m in ['tiny', 'tiny:latest', 'from-dir']:
    for method, path, body in routes(m):
        code, text = call(method, path, body)
        want = 403 if path == '/api/delete' else 400 if path == '/api/copy' else 200
        check(f'{m}: {method} {path} {json.dumps(body)[:60] if body else ""} -> {want}', code == want, f'{code} {text}')
code, text = call('GET', '/api/tags')
names = sorted(x['name'] for x in json.loads(text)['models'])
check('/api/tags lists the served files', names == ['from-dir:latest', 'tiny:latest'], text)
code, text = call('GET', '/v1/models')
ids = sorted(x['id'] for x in json.loads(text)['data'])
check('/v1/models lists the served files', ids == ['from-dir:latest', 'tiny:latest'], text)
code, text = call('POST', '/api/show', {'model': 'tiny'})
check('/api/show of a served file: model_info and details',
      code == 200 and json.loads(text)['details']['format'] == 'gguf' and 'model_info' in json.loads(text), text)

# Paths, traversal and malformed names: 404 (400 for none at all) in the route's envelope, never 500, nothing
# of any file in the answer.
rel = gguf.lstrip('/')
variants = [gguf, '../../../..' + gguf, passwd, '../../../../etc/passwd', '/etc/passwd', '/etc/shadow',
            '/proc/self/environ', '/dev/zero', 'file://' + gguf, './m.gguf', 'm.gguf', rel, '~/m.gguf',
            '..\\..\\m.gguf', 'C:\\m.gguf', '%2e%2e%2fetc%2fpasswd', '..%2F..%2Fetc%2Fpasswd', 'a/../../etc/passwd',
            'tiny/../../../etc/passwd', 'tiny:../../x', 'tiny\u0000.gguf', '\u0000', 'x' * 600, 'y' * 100000,
            'etc/passwd', 'nope', 'library/nope:latest', gguf + '\n']
for v in variants:
    fails_before = fails
    for method, path, body in routes(v):
        if path.startswith('/v1/models/') and len(v) > 4000:
            continue  # beyond any URL a client sends; the body routes carry it
        code, text = call(method, path, body)
        label = f'{v[:50]!r}: {method} {path}'
        check(f'{label} -> 404', code == 404, f'{code} {text}', quiet=True)
        if path.startswith('/v1/models/') and '\n' in v:
            continue  # no route matches a path with a line break: httplib's plain 404, not the model lookup's
        try:
            j = json.loads(text)
        except ValueError:
            check(f'{label}: a JSON error body', False, text, quiet=True)
            continue
        if path.startswith('/v1/'):
            e = j.get('error', {})
            check(f'{label}: OpenAI envelope with code model_not_found',
                  isinstance(e, dict) and e.get('type') == 'not_found_error' and e.get('code') == 'model_not_found'
                  and e.get('param') == 'model' and 'not found' in e.get('message', ''), text, quiet=True)
        else:
            check(f'{label}: Ollama envelope', isinstance(j.get('error'), str) and 'not found' in j['error'], text,
                  quiet=True)
        check(f'{label}: nothing of the file', 'magic' not in text and 'root:' not in text and len(text) < 2000, text,
              quiet=True)
    if fails == fails_before:
        print(f'ok   {v[:50]!r}: 404 in the route\'s envelope on every route, nothing of any file')
for path, body in [('/api/chat', {'model': '', 'messages': hello}), ('/api/show', {'model': ''})]:
    code, text = call('POST', path, body)
    check(f'empty model on {path} -> 400', code == 400, f'{code} {text}')

code, text = call('GET', '/api/ps')
loaded = [x['name'] for x in json.loads(text)['models']]
check('nothing was loaded by path', all(n in ('tiny:latest', 'from-dir:latest') for n in loaded), text)
code, text = call('GET', '/api/tags')
check('nothing was added to the store', len(json.loads(text)['models']) == 2, text)
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || fail=1

grep -q '"status":500' "$dir/log" && bad "a 500 in the log: $(grep '"status":500' "$dir/log" | head -n 3)" \
  || ok "no request answered 500"
kill "$pid" && wait "$pid" && ok "SIGTERM exits 0" || bad "SIGTERM exit code"
pid=

# Served files with projectors: one found beside its model (said at start), the same file with mmproj=none,
# one given with mmproj=FILE; capabilities and projector_info follow the projector on every listing route.
port=$(free_port)
LOCUS_MODELS="$dir/store" LOCUS_MODEL_FILES="seeing=$dir/vision/m.gguf,blind=$dir/vision/m.gguf,mmproj=none" \
  "$locus" serve --host "127.0.0.1:$port" --slots 1 --ctx 512 --threads 2 \
  --model "given=$gguf,mmproj=$dir/mmproj-tiny.gguf" >"$dir/out" 2>"$dir/log" &
pid=$!
wait_for_server "$port" || exit 1
grep -qF "seeing:latest: projector $dir/vision/mmproj-m.gguf (vision and audio), found beside the model and used automatically" \
  "$dir/log" && ok "start-up says the projector beside the model was picked up" || bad "start-up log: $(cat "$dir/log")"
grep -qF "given:latest: projector $dir/mmproj-tiny.gguf (vision and audio), given with --model given=" "$dir/log" \
  && ok "start-up names the given projector" || bad "start-up log: $(cat "$dir/log")"
grep -qF "blind:latest: no projector" "$dir/log" && ok "start-up says mmproj=none serves text only" \
  || bad "start-up log: $(cat "$dir/log")"
python3 - "http://127.0.0.1:$port" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
fails = 0
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())
def check(name, cond, detail=''):
    global fails
    print(('ok   ' if cond else 'FAIL ') + name + ('' if cond else ': ' + str(detail)[:400]))
    fails += 0 if cond else 1
full = ['completion', 'vision', 'audio', 'tools', 'thinking']
text = ['completion', 'tools', 'thinking']
want = {'seeing:latest': full, 'given:latest': full, 'blind:latest': text}
for name, caps in want.items():
    s = call('POST', '/api/show', {'model': name})
    check(f'/api/show {name}: capabilities {caps}', s['capabilities'] == caps, s['capabilities'])
    check(f'/api/show {name}: projector_info exactly with a projector', ('projector_info' in s) == (caps == full),
          list(s))
    m = call('GET', '/v1/models/' + name)
    check(f'/v1/models/{name}: capabilities', m.get('capabilities') == caps and m['object'] == 'model', m)
tags = {m['name']: m['capabilities'] for m in call('GET', '/api/tags')['models']}
check('/api/tags capabilities', tags == want, tags)
models = {m['id']: m['capabilities'] for m in call('GET', '/v1/models')['data']}
check('/v1/models capabilities', models == want, models)
info = call('POST', '/api/show', {'model': 'seeing'})['projector_info']
check('projector_info: the projector GGUF\'s metadata',
      info['general.architecture'] == 'clip' and info['clip.vision.projector_type'] == 'gemma4uv'
      and info['clip.audio.projector_type'] == 'gemma4ua' and info['clip.vision.projection_dim'] == 256
      and info['general.parameter_count'] > 0, info)
r = call('POST', '/api/chat', {'model': 'seeing', 'messages': [{'role': 'user', 'content': 'Hi'}], 'stream': False,
                               'options': {'num_predict': 2}})
check('a model with a projector still chats', r.get('done') is True, r)
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || fail=1
kill "$pid" && wait "$pid" && ok "SIGTERM exits 0" || bad "SIGTERM exit code"
pid=
exit $fail
