//! hedui's Ballista processes (issue #29): a scheduler and two executors started as separate
//! processes on localhost with free ports, a query shipped through them against the same
//! query run locally, and a scheduler that is not there.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

/// Child processes killed when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A free port, and (with `pair`) the one after it free too.
fn free_port(pair: bool) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if !pair || (p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()) {
            return p;
        }
    }
}

fn hedui(args: &[&str], log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// A session on the cluster at `url` with hedui's codecs.
async fn remote(url: &str) -> datafusion::error::Result<SessionContext> {
    let config = SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(
            hedui::engine::cluster::LogicalCodec::default(),
        ))
        .with_ballista_physical_extension_codec(Arc::new(
            hedui::engine::cluster::PhysicalCodec::default(),
        ));
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    SessionContext::remote_with_state(url, state).await
}

#[test]
fn a_query_runs_on_a_scheduler_and_two_executors_as_it_runs_here() {
    let dir = tempfile::tempdir().unwrap();
    // A table of 200,000 rows in four files.
    let schema = Arc::new(Schema::new(vec![
        Field::new("region", DataType::Int32, false),
        Field::new("fen", DataType::Int64, false),
    ]));
    let data = dir.path().join("t");
    std::fs::create_dir_all(&data).unwrap();
    for f in 0..4i64 {
        let n = 50_000i64;
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from_iter_values(
                    (0..n).map(|i| 440100 + ((i * 7 + f) % 21) as i32 * 100),
                )),
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i * 13 + f))),
            ],
        )
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(data.join(format!("{f}.parquet"))).unwrap(),
            schema.clone(),
            None,
        )
        .unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
    }
    let sched = free_port(false);
    let url = format!("df://127.0.0.1:{sched}");
    let mut procs = Procs(vec![hedui(
        &[
            "cluster",
            "scheduler",
            "--bind",
            &format!("127.0.0.1:{sched}"),
        ],
        &dir.path().join("scheduler.log"),
    )]);
    for e in 0..2 {
        let port = free_port(true).to_string();
        let work = dir.path().join(format!("work{e}"));
        std::fs::create_dir_all(&work).unwrap();
        procs.0.push(hedui(
            &[
                "cluster",
                "executor",
                "--scheduler",
                &url,
                "--slots",
                "2",
                "--port",
                &port,
                "--work-dir",
                work.to_str().unwrap(),
            ],
            &dir.path().join(format!("executor{e}.log")),
        ));
    }
    let sql =
        "SELECT region, count(*) AS n, sum(fen) AS fen FROM t GROUP BY region ORDER BY region";
    let path = data.to_str().unwrap().to_string() + "/";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let local = rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet("t", &path, ParquetReadOptions::default())
            .await
            .unwrap();
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    });
    // The executors register within seconds; until then the query cannot be placed.
    let started = Instant::now();
    let shipped = loop {
        let got = rt.block_on(async {
            let ctx = remote(&url).await?;
            ctx.register_parquet("t", &path, ParquetReadOptions::default())
                .await?;
            ctx.sql(sql).await?.collect().await
        });
        match got {
            Ok(b) => break b,
            Err(e) if started.elapsed() < Duration::from_secs(90) => {
                eprintln!("not yet: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!(
                "the cluster did not answer: {e}\n{}",
                std::fs::read_to_string(dir.path().join("scheduler.log")).unwrap_or_default()
            ),
        }
    };
    let pretty = |b: &[RecordBatch]| {
        arrow::util::pretty::pretty_format_batches(b)
            .unwrap()
            .to_string()
    };
    assert_eq!(pretty(&shipped), pretty(&local));
    // (Regions 440100 + 100 * ((7i + f) mod 21): twelve of them.)
    assert_eq!(local.iter().map(|b| b.num_rows()).sum::<usize>(), 12);
    // The executors ran it: their shuffle files are in their work folders.
    let files = |d: &std::path::Path| -> usize {
        fn walk(d: &std::path::Path) -> usize {
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
        walk(d)
    };
    let written: Vec<usize> = (0..2)
        .map(|e| files(&dir.path().join(format!("work{e}"))))
        .collect();
    eprintln!("files in the executors' work folders: {written:?}");
    assert!(written.iter().sum::<usize>() > 0, "{written:?}");
    drop(procs);
}

#[test]
fn a_scheduler_that_is_not_there_fails_before_anything_starts() {
    let port = free_port(false);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let got = rt.block_on(async {
        let ctx = remote(&format!("df://127.0.0.1:{port}")).await?;
        ctx.sql("SELECT 1").await?.collect().await
    });
    let err = got.expect_err("nobody listens there").to_string();
    assert!(started.elapsed() < Duration::from_secs(60), "{err}");
}
