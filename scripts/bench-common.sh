# Helpers shared by scripts/bench*.sh. Source it after setting BENCH_NAME,
# the prefix of every message.

# bench_bytes SIZE: 512m, 1g, 2G, 4096 -> bytes; a bad size exits 2.
bench_bytes() {
  local s=${1,,}
  case $s in
    *k) echo $((${s%k} << 10)) ;; *m) echo $((${s%m} << 20)) ;;
    *g) echo $((${s%g} << 30)) ;; *t) echo $((${s%t} << 40)) ;;
    *[!0-9]* | '') echo "$BENCH_NAME: bad size '$1'" >&2; exit 2 ;;
    *) echo "$s" ;;
  esac
}

# bench_check_runtime SEC: a positive whole number of seconds, else exit 2.
bench_check_runtime() {
  [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || { echo "$BENCH_NAME: bad --runtime '$1'" >&2; exit 2; }
}

# bench_require TOOL...: exits 1 naming the first tool not on PATH.
bench_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$BENCH_NAME: $tool is missing (run scripts/install-deps.sh)" >&2; exit 1; }
  done
}
