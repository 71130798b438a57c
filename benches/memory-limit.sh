#!/usr/bin/env bash
# Ingest under a hard memory limit (a cgroup v1 memory controller; run as root).
#
#   benches/memory-limit.sh CONFIG LIMIT_MIB [OUT]
#
# Runs `hedui ingest --config CONFIG` inside a memory cgroup limited to LIMIT_MIB (page cache
# included, as the kernel counts it), then prints the peak RSS, the cgroup's peak usage and how
# often the limit was hit. Build first: cargo build --release -p hedui.
set -euo pipefail
config="${1:?config}"
limit="${2:?limit in MiB}"
out="${3:-$(mktemp -d /tmp/hedui-memlimit.XXXXXX)}"
root=/sys/fs/cgroup/memory
[ -d "$root" ] || { echo "no cgroup v1 memory controller at $root" >&2; exit 2; }
cg="$root/hedui-bench-$$"
mkdir "$cg"
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
echo $((limit * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
bin="$(dirname "$0")/../target/release/hedui"
status=0
/usr/bin/time -f "peak RSS %M KiB, wall %e s" sh -c "echo \$\$ > $cg/cgroup.procs; exec $bin ingest --config $config --out $out" || status=$?
echo "cgroup limit ${limit} MiB, peak usage $(( $(cat "$cg/memory.max_usage_in_bytes") / 1048576 )) MiB, limit hit $(cat "$cg/memory.failcnt") times"
echo "output: $out (hedui ingest exited with $status; 2 means some source failed or was not configured)"
