# Sourced by the tests/api scripts that start `locus serve` on loopback (after `set -u`): a scratch folder
# `dir` removed on exit with the server (`pid`) stopped, the ok/bad lines and their `fail` flag, a free
# loopback port, and the wait for a server to answer.
dir=$(mktemp -d)
pid=
fail=0
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits up to 10 s for GET / on 127.0.0.1:PORT; otherwise prints the server's log ($dir/log) and returns 1.
wait_for_server() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "server did not start: $(cat "$dir/log" 2>/dev/null)"
  return 1
}
