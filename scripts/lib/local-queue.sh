# Sourced by the scripts that run many single-threaded jobs (stand-alone trainings, retrains,
# search scoring): QUEUE=redis://… uses workers already running (on any machines); without it a
# loopback redis-server and one `vitas worker` with WORKERS child processes (default: the core
# count) start here and stop at exit. WORKERS=0: no queue. Afterwards q holds the --queue flag
# to pass on (empty without a queue): vitas … ${q[@]+"${q[@]}"}
# Usage: start_local_queue (call it only when a step needs the queue)
QUEUE=${QUEUE:-}
WORKERS=${WORKERS:-$(nproc)}
q=()
start_local_queue() {
  if [ -z "$QUEUE" ] && [ "$WORKERS" -gt 0 ]; then
    local port
    port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    # both in sessions of their own, so a Ctrl-C at the terminal reaches only the script, whose
    # traps stop them in order: the worker hands its jobs back, then Redis goes
    setsid redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning >/dev/null &
    redis_pid=$!
    QUEUE="redis://127.0.0.1:$port"
    for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] || { echo "redis-server did not start on port $port (is it installed? apt-get install redis-server)" >&2; exit 1; }
    setsid node dist/src/cli/main.js worker --queue "$QUEUE" --concurrency "$WORKERS" --name "$(basename "$0" .sh)" &
    worker_pid=$! # node's own pid (not a subshell's), so the signals below reach it
    # At the end the idle worker stops (one SIGINT), then Redis. On Ctrl-C it hands its jobs back
    # (a second SIGINT; a retrain saves its checkpoint after the step in hand first): their
    # checkpoints stay in the run folders, and the next run resumes them.
    stop_queue() { kill -INT "$worker_pid" 2>/dev/null || true; wait "$worker_pid" 2>/dev/null || true; kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; }
    trap 'rc=$?; stop_queue; exit $rc' EXIT
    trap 'kill -INT "$worker_pid" 2>/dev/null || true; sleep 0.5; exit 130' INT
  fi
  if [ -n "$QUEUE" ]; then q=(--queue "$QUEUE"); fi
}
