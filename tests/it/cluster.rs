//! A batch on an Apache Ballista cluster (issue #29): hedui's scheduler and two executors
//! started as separate processes on localhost with free ports; the 10,000-household batch run
//! through them against the same batch run by the local engine, byte for byte; an executor
//! killed in the middle of a stage; a scheduler that is not there.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hedui::config::BatchConfig;
use hedui::engine::finding::Stage;
use hedui::manifest::Manifest;
use hedui::policy::Policy;

use crate::common::province;

/// A scheduler and its executors, processes killed when dropped.
struct Cluster {
    url: String,
    scheduler: Child,
    executors: Vec<Option<Child>>,
    dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self
            .executors
            .iter_mut()
            .flatten()
            .chain([&mut self.scheduler])
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A free port, and (with `pair`) the one after it free too, never one handed out before
/// by this test binary (the processes bind them later).
fn free_port(pair: bool) -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        let ports = if pair {
            vec![p, p.wrapping_add(1)]
        } else {
            vec![p]
        };
        if ports.iter().any(|p| *p == 0 || given.contains(p)) {
            continue;
        }
        if !pair || TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            given.extend(ports);
            return p;
        }
    }
}

fn hedui(args: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

impl Cluster {
    /// A scheduler and `n` executors of two slots each (heartbeats every second, an executor
    /// silent for 5 s taken for dead), once the scheduler lists all of them.
    fn start(n: usize) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("hedui-it-cluster")
            .tempdir()
            .unwrap();
        let port = free_port(false);
        let url = format!("df://127.0.0.1:{port}");
        let scheduler = hedui(
            &[
                "cluster",
                "scheduler",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--executor-timeout",
                "5",
            ],
            &dir.path().join("scheduler.log"),
        );
        let mut cluster = Cluster {
            url,
            scheduler,
            executors: Vec::new(),
            dir,
        };
        for e in 0..n {
            let port = free_port(true).to_string();
            let work = cluster.work(e);
            std::fs::create_dir_all(&work).unwrap();
            let log = cluster.dir.path().join(format!("executor{e}.log"));
            cluster.executors.push(Some(hedui(
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &cluster.url,
                    "--slots",
                    "2",
                    "--port",
                    &port,
                    "--heartbeat",
                    "1",
                    "--work-dir",
                    work.to_str().unwrap(),
                ],
                &log,
            )));
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        let started = Instant::now();
        loop {
            match rt.block_on(hedui::engine::cluster_executors(&cluster.url)) {
                Ok(e) if e.len() == n => break,
                got if started.elapsed() > Duration::from_secs(120) => {
                    panic!("the cluster did not come up: {got:?}\n{}", cluster.logs())
                }
                _ => std::thread::sleep(Duration::from_millis(300)),
            }
        }
        cluster
    }

    /// Executor `e`'s work folder (its shuffle files).
    fn work(&self, e: usize) -> PathBuf {
        self.dir.path().join(format!("work{e}"))
    }

    /// Every process's log.
    fn logs(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                out += &format!("== {}\n", e.path().display());
                for l in tail.into_iter().rev() {
                    out += l;
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The files under executor `e`'s work folder.
    fn files_written(&self, e: usize) -> usize {
        fn walk(d: &Path) -> usize {
            std::fs::read_dir(d).map_or(0, |r| {
                r.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        walk(&self.work(e))
    }
}

fn as_of() -> chrono::NaiveDate {
    hedui::generate::DEFAULT_AS_OF.parse().unwrap()
}

/// The shared province's plan, on the cluster at `url` (scratch tables under `shared`) or,
/// without one, on this process.
fn plan(cluster: Option<(&str, &Path)>) -> hedui::config::BatchPlan {
    let (mut cfg, base) = BatchConfig::load(&province().join("hedui.toml")).unwrap();
    if let Some((url, shared)) = cluster {
        cfg.engine.cluster = Some(url.to_string());
        cfg.engine.shared_dir = Some(shared.to_path_buf());
    }
    cfg.build(&base).unwrap()
}

/// Runs the shared province's batch by `plan` into `root`, calling `on_stage` at each stage.
fn run(
    plan: &hedui::config::BatchPlan,
    root: &Path,
    on_stage: impl Fn(Stage) + Send + Sync + 'static,
) -> hedui::Result<hedui::run::Batch> {
    let progress = hedui::run::Progress {
        source: Arc::new(|_| {}),
        stage: Arc::new(on_stage),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(hedui::run::run(
        plan,
        &Policy::default_policy(),
        as_of(),
        root,
        &progress,
    ))
}

/// The shared province's batch by the local engine (its folder and manifest).
fn local() -> &'static (PathBuf, Manifest) {
    static LOCAL: OnceLock<(PathBuf, Manifest)> = OnceLock::new();
    LOCAL.get_or_init(|| {
        let root = crate::common::fixture_dir("hedui-it-cluster-local");
        let batch = run(&plan(None), &root, |_| {}).unwrap();
        let manifest = Manifest::read(&batch.dir).unwrap();
        (batch.dir, manifest)
    })
}

/// Where Parquet files `a` and `b` first differ: a row's columns, as text.
fn first_difference(a: &Path, b: &Path) -> String {
    let rows = |p: &Path| -> Vec<String> {
        let mut out = Vec::new();
        for batch in hedui::output::read_parquet(p).unwrap() {
            let shown = arrow::util::pretty::pretty_format_batches(&[batch]).unwrap();
            out.extend(shown.to_string().lines().map(str::to_string));
        }
        out
    };
    let meta = |p: &Path| {
        let r = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(p).unwrap())
            .unwrap();
        let m = parquet::file::reader::FileReader::metadata(&r).clone();
        let schema = parquet::arrow::parquet_to_arrow_schema(
            m.file_metadata().schema_descr(),
            m.file_metadata().key_value_metadata(),
        )
        .unwrap();
        let groups: Vec<String> = m
            .row_groups()
            .iter()
            .map(|g| {
                let cols: Vec<String> = g
                    .columns()
                    .iter()
                    .map(|c| format!("{}:{}", c.column_path(), c.compressed_size()))
                    .collect();
                format!("{} rows [{}]", g.num_rows(), cols.join(" "))
            })
            .collect();
        (format!("{schema:?}"), groups)
    };
    let (ma, mb) = (meta(a), meta(b));
    if ma.0 != mb.0 {
        return format!("schemas:\n local:   {}\n cluster: {}", ma.0, mb.0);
    }
    if ma.1 != mb.1 {
        return format!("row groups:\n local:   {:?}\n cluster: {:?}", ma.1, mb.1);
    }
    let (a_rows, b_rows) = (rows(a), rows(b));
    for (i, (x, y)) in a_rows.iter().zip(&b_rows).enumerate() {
        if x != y {
            return format!("line {i} of the printed rows:\n local:   {x}\n cluster: {y}");
        }
    }
    format!("{} rows printed against {}", a_rows.len(), b_rows.len())
}

/// Every file of batch `got` has the bytes of the local engine's (the manifest's SHA-256 of
/// every file but the manifest: outputs, summary, reports, the staged snapshot), but the copy
/// of the config, which names the cluster.
fn assert_same_bytes(dir: &Path, got: &Manifest) {
    let (local_dir, want) = local();
    assert_eq!(got.batch_id, want.batch_id);
    let names = |m: &Manifest| m.files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want));
    let mut compared = 0;
    for (name, hash) in &want.files {
        if name == hedui::manifest::CONFIG_COPY {
            continue;
        }
        if got.files[name] != *hash {
            let how = if name.ends_with(".parquet") {
                first_difference(&local_dir.join(name), &dir.join(name))
            } else {
                String::new()
            };
            panic!("{name} differs from the local engine's: {how}");
        }
        compared += 1;
    }
    assert_eq!(compared, want.files.len() - 1);
    assert!(want.files.contains_key("evidence.parquet"));
    assert!(want.files.contains_key("outcomes.parquet"));
    assert_eq!(want.cluster, None);
}

#[test]
fn a_batch_on_a_scheduler_and_two_executors_gives_the_local_engines_bytes() {
    let cluster = Cluster::start(2);
    let root = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let batch = run(
        &plan(Some((&cluster.url, shared.path()))),
        root.path(),
        |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    let manifest = Manifest::read(&batch.dir).unwrap();
    assert_same_bytes(&batch.dir, &manifest);
    // The manifest names the cluster and its two executors, and both ran tasks (their
    // shuffle files are in their work folders).
    let run_on = manifest.cluster.as_ref().expect("the cluster is named");
    assert_eq!(run_on.scheduler, cluster.url);
    assert_eq!(run_on.executors.len(), 2, "{run_on:?}");
    assert!(
        run_on
            .executors
            .iter()
            .all(|e| e.host == "127.0.0.1" && e.slots == 2)
    );
    let written: Vec<usize> = (0..2).map(|e| cluster.files_written(e)).collect();
    assert!(written.iter().all(|n| *n > 0), "shuffle files: {written:?}");
    // The engine's scratch tables went to the shared folder and left with the engine.
    assert_eq!(std::fs::read_dir(shared.path()).unwrap().count(), 0);
}

#[test]
fn an_executor_killed_in_a_stage_gives_the_same_batch_or_none() {
    let cluster = Arc::new(Mutex::new(Cluster::start(2)));
    let url = cluster.lock().unwrap().url.clone();
    let root = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    // The first executor is killed half a second into the sums, while their queries run:
    // the household resolution and the linkage have run on both executors, and the sums'
    // tasks are placed on both.
    let killed_at = Arc::new(Mutex::new(None));
    let (killer, at) = (cluster.clone(), killed_at.clone());
    let started = Instant::now();
    let got = run(&plan(Some((&url, shared.path()))), root.path(), move |s| {
        if s == Stage::Sums {
            let (killer, at) = (killer.clone(), at.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500));
                let mut c = killer.lock().unwrap();
                if let Some(mut e) = c.executors[0].take() {
                    e.kill().unwrap();
                    e.wait().unwrap();
                    *at.lock().unwrap() = Some(Instant::now());
                }
            });
        }
    });
    let finished = Instant::now();
    // (Had the batch ended before the kill, it would come after: wait for it.)
    std::thread::sleep(Duration::from_millis(700));
    let cluster = cluster.lock().unwrap();
    let killed = killed_at.lock().unwrap().expect("the executor was killed");
    assert!(
        killed < finished,
        "the executor was killed after the batch ended"
    );
    let published = hedui::publish::published(root.path()).unwrap();
    match got {
        // Ballista ran the lost tasks again on the other executor: the same batch.
        Ok(batch) => {
            eprintln!(
                "completed on the other executor in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            assert_eq!(published.len(), 1);
            assert_same_bytes(&batch.dir, &Manifest::read(&batch.dir).unwrap());
        }
        // Or a clear error, and nothing published.
        Err(e) => {
            let text = e.to_string();
            eprintln!("failed: {text}");
            assert!(published.is_empty(), "{published:?}");
            assert!(!root.path().join(".partial").exists());
            assert!(
                text.contains("engine") || text.contains("cluster"),
                "{text}\n{}",
                cluster.logs()
            );
        }
    }
}

#[test]
fn a_scheduler_that_is_not_there_fails_the_run_before_anything_starts() {
    let port = free_port(false);
    let url = format!("df://127.0.0.1:{port}");
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(["run", "--config"])
        .arg(province().join("hedui.toml"))
        .args(["--as-of", hedui::generate::DEFAULT_AS_OF, "--out"])
        .arg(root.path())
        .args(["--cluster", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("cluster {url}")) && err.contains("does not answer"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "{err}");
    // Nothing started: no batch, nothing ingested.
    assert!(hedui::publish::published(root.path()).unwrap().is_empty());
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
