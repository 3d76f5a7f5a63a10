#!/usr/bin/env bash
# Runs the portal's browser tests against a real Kiwi server.
#
#   tests/browser/run.sh [KIWI_BIN] [PLUGINS_TOML] [-- extra node --test args]
#
# Builds nothing. Inputs (arguments win over the environment):
#   KIWI_BIN            the kiwi binary            (default: <repo>/target/debug/kiwi)
#   KIWI_PLUGINS_FILE   plugins.toml; must load `hello` (default: <repo>/plugins.toml)
#   KIWI_SITE_DIR       the portal                 (default: <repo>/site)
#   KIWI_ADMIN_EMAIL / KIWI_ADMIN_PASSWORD   the master account the server creates
#   CHROMIUM            Debian's chromium          (default: /usr/bin/chromium)
# Starts the server on a free 127.0.0.1 port with a fresh temporary data dir,
# runs *.test.js with node's test runner, stops the server. Screenshots and the
# server log go to tests/browser/artifacts/ (gitignored).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

KIWI_BIN="${1:-${KIWI_BIN:-$ROOT/target/debug/kiwi}}"
PLUGINS="${2:-${KIWI_PLUGINS_FILE:-$ROOT/plugins.toml}}"
shift $(( $# > 2 ? 2 : $# )) || true
[[ "${1:-}" == "--" ]] && shift
SITE="${KIWI_SITE_DIR:-$ROOT/site}"
export KIWI_ADMIN_EMAIL="${KIWI_ADMIN_EMAIL:-admin@example.com}"
export KIWI_ADMIN_PASSWORD="${KIWI_ADMIN_PASSWORD:-correct-horse-battery}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export KIWI_ARTIFACTS="$HERE/artifacts"

die() { echo "run.sh: $*" >&2; exit 2; }
# The script changes directory below: make the inputs absolute first.
abs() { [[ "$1" = /* ]] && printf '%s' "$1" || printf '%s/%s' "$PWD" "$1"; }
KIWI_BIN="$(abs "$KIWI_BIN")"; PLUGINS="$(abs "$PLUGINS")"; SITE="$(abs "$SITE")"
[[ -x "$KIWI_BIN" ]] || die "no kiwi binary at $KIWI_BIN (build it first: cargo build -p kiwi-host)"
[[ -f "$PLUGINS" ]] || die "no plugins file at $PLUGINS"
[[ -d "$SITE" ]] || die "no site dir at $SITE"
[[ -x "$CHROMIUM" ]] || die "no chromium at $CHROMIUM (apt-get install -y chromium chromium-driver)"
command -v node >/dev/null || die "node is required"

cd "$HERE"
if [[ ! -d node_modules/playwright-core ]]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null
fi

mkdir -p "$KIWI_ARTIFACTS"
rm -f "$KIWI_ARTIFACTS"/*.png
DATA="$(mktemp -d "${TMPDIR:-/tmp}/kiwi-browser.XXXXXX")"
PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export KIWI_URL="http://127.0.0.1:$PORT"
LOG="$KIWI_ARTIFACTS/server.log"

SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

echo "run.sh: starting $KIWI_BIN on $KIWI_URL (data $DATA, plugins $PLUGINS)"
KIWI_DATA_DIR="$DATA" \
KIWI_DATABASE_URL="sqlite://$DATA/kiwi.db?mode=rwc" \
KIWI_BIND="127.0.0.1:$PORT" \
KIWI_SITE_DIR="$SITE" \
KIWI_PLUGINS_FILE="$PLUGINS" \
KIWI_SECRET_KEY="browser-tests-secret-key-$(date +%s%N)-0123456789abcdef" \
KIWI_LOG_FORMAT=json \
  "$KIWI_BIN" serve >"$LOG" 2>&1 &
SERVER_PID=$!

# Plugins compile on start (debug builds take a while): wait up to 180 s.
for _ in $(seq 1 360); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "run.sh: the server exited during start-up; last log lines:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  if node -e "fetch('$KIWI_URL/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
node -e "fetch('$KIWI_URL/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" || { echo "run.sh: server not healthy after 180 s" >&2; tail -n 30 "$LOG" >&2; exit 1; }

set +e
node --test --test-concurrency=1 --test-reporter=spec "$@" "$HERE"/*.test.js
STATUS=$?
set -e
echo "run.sh: screenshots and server log in $KIWI_ARTIFACTS"
exit $STATUS
