#!/usr/bin/env bash
# The same batch on this machine and on a local Ballista cluster (issue #29): a scheduler and
# two executors as separate processes, `hedui run --cluster`, against `hedui run`. Prints both
# runs' stage times, whether every file but the config copy has the same bytes, and the
# shuffle files each job's stages wrote (the executors' work folders, sampled every 0.2 s:
# Ballista removes a job's intermediate files once the job is done).
#
#   cargo build --release -p hedui --features cluster
#   benches/cluster.sh PROVINCE [WORK] [SLOTS]
#
# PROVINCE holds hedui.toml (e.g. one `hedui-benches compare` or `hedui generate` made);
# WORK (default /tmp/hedui-cluster-bench) gets both batch roots, the work folders and the
# logs; SLOTS (default 1) is each executor's task slots.
set -euo pipefail
province=${1:?usage: benches/cluster.sh PROVINCE [WORK] [SLOTS]}
work=${2:-/tmp/hedui-cluster-bench}
slots=${3:-1}
hedui=${HEDUI:-${CARGO_TARGET_DIR:-$HOME/.cache/hedui/target}/release/hedui}
as_of=$(python3 -c "import json; print(json.load(open('$province/generation.json'))['as_of'])" 2>/dev/null || echo 2026-11-15)
rm -rf "$work" && mkdir -p "$work"
port=$((50000 + RANDOM % 5000))
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT
"$hedui" cluster scheduler --bind "127.0.0.1:$port" >"$work/scheduler.log" 2>&1 &
pids+=($!)
for e in 0 1; do
    mkdir -p "$work/work$e"
    "$hedui" cluster executor --scheduler "df://127.0.0.1:$port" --slots "$slots" \
        --port $((port + 10 + 2 * e)) --work-dir "$work/work$e" >"$work/executor$e.log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 1 100); do
    n=$(curl -s "http://127.0.0.1:$port/api/executors" | grep -o '"id"' | wc -l || true)
    [ "$n" = 2 ] && break
    sleep 0.3
done
python3 - "$work" >"$work/shuffle.tsv" <<'EOF' &
import os, sys, time
work = sys.argv[1]
seen = {}
stop = os.path.join(work, "stop")
while not os.path.exists(stop):
    for e in ("work0", "work1"):
        root = os.path.join(work, e)
        sizes = {}
        for d, _, files in os.walk(root):
            rel = os.path.relpath(d, root).split(os.sep)
            if len(rel) < 2:
                continue
            key = (rel[0], rel[1], e)
            for f in files:
                try:
                    sizes[key] = sizes.get(key, 0) + os.path.getsize(os.path.join(d, f))
                except OSError:
                    pass
        for k, v in sizes.items():
            seen[k] = max(seen.get(k, 0), v)
    time.sleep(0.2)
for (job, stage, e), v in sorted(seen.items()):
    print(f"{job}\t{stage}\t{e}\t{v}")
EOF
sampler=$!
echo "== cluster: scheduler 127.0.0.1:$port, two executors of $slots slot(s)"
/usr/bin/time -f "%e s wall, %M KiB max RSS (hedui run)" "$hedui" run --config "$province/hedui.toml" \
    --as-of "$as_of" --out "$work/cluster" --cluster "df://127.0.0.1:$port" >"$work/cluster.txt" 2>"$work/cluster.err" ||
    { cat "$work/cluster.err"; exit 1; }
tail -1 "$work/cluster.err"
touch "$work/stop"
wait "$sampler"
curl -s "http://127.0.0.1:$port/api/jobs" >"$work/jobs.json"
stop
echo "== local"
/usr/bin/time -f "%e s wall, %M KiB max RSS (hedui run)" "$hedui" run --config "$province/hedui.toml" \
    --as-of "$as_of" --out "$work/local" >"$work/local.txt" 2>"$work/local.err" ||
    { cat "$work/local.err"; exit 1; }
tail -1 "$work/local.err"
python3 - "$work" <<'EOF'
import glob, json, os, sys
work = sys.argv[1]
def manifest(root):
    [d] = [p for p in glob.glob(os.path.join(work, root, "*")) if os.path.isdir(p)]
    return json.load(open(os.path.join(d, "manifest.json")))
c, l = manifest("cluster"), manifest("local")
print("== stage times (s): local, cluster, cluster/local")
lt, ct = dict(l["timings"]), dict(c["timings"])
core_l = core_c = 0.0
for s, t in l["timings"]:
    print(f"  {s:28} {t:8.2f} {ct[s]:8.2f} {ct[s] / t if t else 0:6.2f}")
    if s not in ("ingest", "hashing"):
        core_l += t
        core_c += ct[s]
print(f"  {'verification stages':28} {core_l:8.2f} {core_c:8.2f} {core_c / core_l:6.2f}")
names = sorted(set(c["files"]) | set(l["files"]))
differ = [n for n in names if n != "config.toml" and c["files"].get(n) != l["files"].get(n)]
print(f"== files: {len(names)}; differing but the config copy: {differ or 'none'}")
print("== executors named by the cluster batch's manifest:")
for e in c["cluster"]["executors"]:
    print(f"  {e['id']} {e['host']}:{e['port']} slots {e['slots']}")
jobs = {j["job_id"]: j for j in json.load(open(os.path.join(work, "jobs.json")))}
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(work, "shuffle.tsv")) if l.strip()]
per_job = {}
for job, stage, e, v in rows:
    per_job.setdefault(job, {}).setdefault(stage, 0)
    per_job[job][stage] += int(v)
total = sum(sum(s.values()) for s in per_job.values())
print(f"== shuffle files written (sampled): {total / 2**20:.1f} MiB over {len(per_job)} of {len(jobs)} jobs")
order = sorted(per_job, key=lambda j: jobs.get(j, {}).get("start_time", 0))
for j in order:
    stages = per_job[j]
    s = ", ".join(f"stage {k}: {v / 2**20:.1f}" for k, v in sorted(stages.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0))
    print(f"  {j} ({jobs.get(j, {}).get('num_stages', '?')} stages) MiB {s}")
EOF
