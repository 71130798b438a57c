//! PostgreSQL sources against a real server (started by `.ci/run`; see `HEDUI_TEST_PG`).
//!
//! Without the server these tests say so and pass only when `HEDUI_REQUIRE_PG` is unset, so
//! a plain `cargo test` works on a laptop while CI, which sets it, cannot skip them.

use std::fs::File;
use std::time::Duration;

use arrow::array::RecordBatch;
use hedui_connectors::config::{Connector, Gates, SourceConfig};
use hedui_connectors::ingest::{IngestOptions, Status, ingest_source};
use hedui_connectors::raw::{RawRecord, read_files};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::province;

fn dsn(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) => Some(v),
        Err(_) if std::env::var("HEDUI_REQUIRE_PG").is_ok() => {
            panic!("{var} is not set but HEDUI_REQUIRE_PG is")
        }
        Err(_) => {
            eprintln!("skipping: {var} is not set (.ci/run starts a server and sets it)");
            None
        }
    }
}

fn plan_for(
    dsn: &str,
    query: &str,
    timeout: u64,
    retries: u32,
) -> hedui_connectors::config::SourcePlan {
    plan_with_ca(dsn, query, timeout, retries, None)
}

fn plan_with_ca(
    dsn: &str,
    query: &str,
    timeout: u64,
    retries: u32,
    ca_file: Option<String>,
) -> hedui_connectors::config::SourcePlan {
    let def = hedui_schemas::source("tax").unwrap();
    let mut c = SourceConfig::default_for(def, "exports");
    c.connector = Connector::Postgres {
        dsn: dsn.into(),
        query: query.into(),
        connect_timeout_secs: timeout,
        retries,
        ca_file,
    };
    c.build(def, province(), &Gates::default()).unwrap()
}

fn staged_without_file(path: &std::path::Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| {
            let b = b.unwrap();
            let idx = b.schema().index_of("_file").unwrap();
            let mut b = b;
            b.remove_column(idx);
            b
        })
        .collect()
}

#[test]
fn a_postgres_source_ingests_row_for_row_like_its_file() {
    let Some(dsn) = dsn("HEDUI_TEST_PG") else {
        return;
    };
    let def = hedui_schemas::source("tax").unwrap();
    // Load the department's export, dirty rows and all, into a table of text columns.
    let mut client = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
    let cols: Vec<String> = def
        .fields
        .iter()
        .map(|f| format!("\"{}\"", f.raw.header))
        .collect();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS tax_export; CREATE TABLE tax_export (row_no bigint primary key, {});",
            cols.iter().map(|c| format!("{c} text")).collect::<Vec<_>>().join(", ")
        ))
        .unwrap();
    let file_plan = SourceConfig::default_for(def, "exports")
        .build(def, province(), &Gates::default())
        .unwrap();
    let mut w = client
        .copy_in(&format!(
            "COPY tax_export (row_no, {}) FROM STDIN WITH (FORMAT csv)",
            cols.join(", ")
        ))
        .unwrap();
    let mut csv_out = csv::Writer::from_writer(Vec::new());
    let mut loaded = 0u64;
    read_files(&file_plan, 50_000, &mut |_, recs: Vec<RawRecord>| {
        for r in recs {
            let mut row = vec![r.line.to_string()];
            row.extend(r.fields.iter().map(|f| f.clone().unwrap_or_default()));
            csv_out.write_record(&row).unwrap();
            loaded += 1;
        }
        Ok(())
    })
    .unwrap();
    std::io::Write::write_all(&mut w, &csv_out.into_inner().unwrap()).unwrap();
    w.finish().unwrap();

    let query = format!(
        "SELECT {} FROM tax_export ORDER BY row_no;",
        cols.join(", ")
    );
    // Over TLS with the certificate and host name checked, when the server speaks TLS.
    let dsn = match std::env::var("HEDUI_TEST_PG_CA") {
        Ok(ca) => format!("{dsn} sslmode=verify-full sslrootcert='{ca}'"),
        Err(_) => dsn,
    };
    let pg_plan = plan_for(&dsn, &query, 10, 2);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = |p: &std::path::Path| IngestOptions {
        out: p.to_path_buf(),
        batch_rows: 7_777,
    };
    let from_pg = ingest_source(&pg_plan, &opts(a.path()), None);
    let from_file = ingest_source(&file_plan, &opts(b.path()), None);
    assert_eq!(from_pg.status, Status::Ok, "{:?}", from_pg.error);
    assert_eq!(from_pg.read, loaded);
    assert_eq!(
        (from_pg.read, from_pg.accepted, &from_pg.by_reason),
        (from_file.read, from_file.accepted, &from_file.by_reason)
    );
    assert!(
        from_pg.files[0].0.starts_with("postgres://"),
        "{:?}",
        from_pg.files
    );
    let x = staged_without_file(&a.path().join("staged/tax.parquet"));
    let y = staged_without_file(&b.path().join("staged/tax.parquet"));
    let cat = |v: &[RecordBatch]| arrow::compute::concat_batches(&v[0].schema(), v).unwrap();
    assert_eq!(
        cat(&x),
        cat(&y),
        "staged rows from PostgreSQL equal staged rows from the file"
    );
}

#[test]
fn an_unreachable_database_fails_clearly_and_quickly() {
    // Nothing listens on port 1; two attempts with backoff, then a clear failure.
    let plan = plan_for(
        "host=127.0.0.1 port=1 user=nobody dbname=none",
        "SELECT 1",
        2,
        1,
    );
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let r = ingest_source(
        &plan,
        &IngestOptions {
            out: out.path().to_path_buf(),
            batch_rows: 1000,
        },
        None,
    );
    assert_eq!(r.status, Status::Failed);
    let err = r.error.unwrap();
    assert!(
        err.contains("tax")
            && err.contains("127.0.0.1:1")
            && err.contains("cannot connect after 2 attempts"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_bad_query_names_the_source_and_host() {
    let Some(dsn) = dsn("HEDUI_TEST_PG") else {
        return;
    };
    let plan = plan_for(&dsn, "SELECT * FROM no_such_export_table", 5, 0);
    let out = tempfile::tempdir().unwrap();
    let r = ingest_source(
        &plan,
        &IngestOptions {
            out: out.path().to_path_buf(),
            batch_rows: 1000,
        },
        None,
    );
    let err = r.error.unwrap();
    assert!(
        err.contains("tax") && err.contains("query failed") && err.contains("no_such_export_table"),
        "{err}"
    );
}

#[test]
fn killing_the_database_mid_stream_fails_the_source_without_hanging() {
    let Some(dsn) = dsn("HEDUI_TEST_PG_VICTIM") else {
        return;
    };
    let stop = std::env::var("HEDUI_TEST_PG_VICTIM_STOP").expect("HEDUI_TEST_PG_VICTIM_STOP");
    // A result far too large to finish before the kill.
    let query = "SELECT '11010519491231002X' AS taxpayer_id, '202605' AS income_month, '工资薪金所得' AS income_item, \
                 (g % 1000003)::text AS income_fen, '0' AS tax_paid_fen, NULL::text AS withholder_uscc \
                 FROM generate_series(1, 200000000) g";
    let plan = plan_for(&dsn, query, 5, 0);
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = ingest_source(
            &plan,
            &IngestOptions {
                out: out_path,
                batch_rows: 20_000,
            },
            None,
        );
        let _ = tx.send(r);
    });
    std::thread::sleep(Duration::from_millis(2500));
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(&stop)
        .status()
        .unwrap();
    assert!(status.success(), "could not stop the victim server: {stop}");
    let r = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("ingestion hung after the server was killed");
    assert_eq!(r.status, Status::Failed);
    let err = r.error.unwrap();
    assert!(
        err.contains("tax") && err.contains("PostgreSQL at 127.0.0.1"),
        "{err}"
    );
    assert!(
        !out.path().join("staged/tax.parquet").exists(),
        "no staged snapshot is left behind"
    );
}

/// Whether a connection made by the connector for `plan` is encrypted, or its error.
fn connect_tls(plan: &hedui_connectors::config::SourcePlan) -> Result<bool, String> {
    let (mut client, _) = hedui_connectors::pg::connect(plan).map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    Ok(row.get::<_, bool>(0))
}

// TLS as libpq does it, against the CI's server and its throwaway CA: verify-full and
// verify-ca check the certificate against the CA file (from the dsn or the config), and
// verify-full the host name too; require encrypts without checking; disable does not
// encrypt; require against a server without TLS fails, naming the source and the host.
#[test]
fn postgres_over_tls_checks_the_certificate_and_the_host_as_libpq_does() {
    let Some(dsn) = dsn("HEDUI_TEST_PG") else {
        return;
    };
    let (Ok(ca), Ok(other_ca)) = (
        std::env::var("HEDUI_TEST_PG_CA"),
        std::env::var("HEDUI_TEST_PG_OTHER_CA"),
    ) else {
        panic!(
            "HEDUI_TEST_PG is set without HEDUI_TEST_PG_CA and HEDUI_TEST_PG_OTHER_CA (.ci/pg sets all three)"
        );
    };
    let tls = |extra: &str, ca_file: Option<&str>| {
        connect_tls(&plan_with_ca(
            &format!("{dsn} {extra}"),
            "SELECT 1",
            5,
            0,
            ca_file.map(str::to_string),
        ))
    };
    assert_eq!(
        tls(&format!("sslmode=verify-full sslrootcert='{ca}'"), None),
        Ok(true)
    );
    assert_eq!(
        tls("sslmode=verify-full", Some(&ca)),
        Ok(true),
        "the CA file from the config"
    );
    assert_eq!(
        tls("sslmode=require", None),
        Ok(true),
        "encrypted, not checked"
    );
    assert_eq!(tls("sslmode=disable", None), Ok(false));
    assert_eq!(
        tls("", None),
        Ok(true),
        "libpq's default, prefer, uses TLS when offered"
    );
    let err = tls(
        &format!("sslmode=verify-full sslrootcert='{other_ca}'"),
        None,
    )
    .unwrap_err();
    assert!(
        err.contains("tax")
            && err.contains("127.0.0.1:54329")
            && err.contains("the server's certificate was refused: the CA file did not sign it"),
        "{err}"
    );
    let err = tls("sslmode=require", Some(&other_ca)).unwrap_err();
    assert!(
        err.contains("the CA file did not sign it"),
        "require with a CA file checks it: {err}"
    );
    // The certificate names localhost and 127.0.0.1: under another name the chain is good
    // but the host is not.
    let renamed = dsn.replace(
        "host=127.0.0.1",
        "host=not-the-server.invalid hostaddr=127.0.0.1",
    );
    assert_ne!(renamed, dsn);
    let by_name = |mode: &str| {
        connect_tls(&plan_with_ca(
            &format!("{renamed} sslmode={mode} sslrootcert='{ca}'"),
            "SELECT 1",
            5,
            0,
            None,
        ))
    };
    let err = by_name("verify-full").unwrap_err();
    assert!(
        err.contains("refused: it does not name the host connected to"),
        "{err}"
    );
    assert_eq!(by_name("verify-ca"), Ok(true));
    // A server without TLS.
    // A server without TLS answers the TLS request with `N`, as PostgreSQL does with
    // ssl=off (a listener of the test's own: the CI's other server is killed by another test).
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    let answer = std::thread::spawn(move || {
        let (mut s, _) = plain.accept().unwrap();
        let mut request = [0u8; 8];
        std::io::Read::read_exact(&mut s, &mut request).unwrap();
        std::io::Write::write_all(&mut s, b"N").unwrap();
        request
    });
    let err = connect_tls(&plan_for(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=require"),
        "SELECT 1",
        5,
        0,
    ))
    .unwrap_err();
    assert_eq!(
        answer.join().unwrap(),
        [0, 0, 0, 8, 4, 210, 22, 47],
        "the driver asked for TLS first"
    );
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("server does not support TLS"),
        "{err}"
    );
    // A CA file that is not there is a clear error naming it.
    let err = tls("sslmode=verify-full", Some("/nonexistent/ca.crt")).unwrap_err();
    assert!(
        err.contains("the CA file /nonexistent/ca.crt does not exist"),
        "{err}"
    );
}
