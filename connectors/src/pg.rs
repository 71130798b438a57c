//! PostgreSQL sources: a query streamed with `COPY (query) TO STDOUT (FORMAT csv)`.
//!
//! The server sends the result as CSV text and the rows flow through the same reader as a CSV
//! file, a batch at a time, so memory does not depend on the result's size. Connecting has a
//! timeout and retries with doubling backoff; any failure (refused, timed out, the server
//! gone mid-stream) is an error naming the source and the host, never a hang or a panic.

use std::time::Duration;

use crate::config::{Connector, SourcePlan};
use crate::raw::{Numbering, Sink, read_csv};
use crate::{Error, Result};

/// `host:port` of a connection config, for messages.
pub fn host_label(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// Connects with the plan's timeout and retries.
pub fn connect(plan: &SourcePlan) -> Result<(postgres::Client, String)> {
    let Connector::Postgres {
        dsn,
        connect_timeout_secs,
        retries,
        ca_file,
        ..
    } = &plan.connector
    else {
        return Err(Error::Config {
            source_id: plan.def.id.into(),
            msg: "not a postgres connector".into(),
        });
    };
    let config_error = |msg: String| Error::Config {
        source_id: plan.def.id.into(),
        msg,
    };
    let ca = ca_file.as_ref().map(|f| plan.base.join(f));
    let (dsn, tls) = crate::pg_tls::split_dsn(dsn, ca.as_deref())
        .map_err(|e| config_error(format!("postgres dsn: {e}")))?;
    let mut config: postgres::Config = dsn
        .parse()
        .map_err(|e| config_error(format!("postgres dsn: {e}")))?;
    config.ssl_mode(tls.driver_mode());
    let connector = tls.connector().map_err(config_error)?;
    config.connect_timeout(Duration::from_secs(*connect_timeout_secs));
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    config.application_name("hedui-ingest");
    let host = host_label(&config);
    let mut backoff = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        match config.connect(connector.clone()) {
            Ok(client) => {
                if tls.mode != crate::pg_tls::SslMode::Disable && !tls.verifies_certificate() {
                    tracing::warn!(source = plan.def.id, %host, sslmode = tls.mode.name(), "the server's certificate was not checked: set sslmode=verify-full with a CA file");
                }
                return Ok((client, host));
            }
            Err(e) if attempt < *retries => {
                attempt += 1;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(8));
                let _ = e;
            }
            Err(e) => {
                return Err(Error::Postgres {
                    source_id: plan.def.id.into(),
                    host,
                    msg: format!(
                        "cannot connect after {} attempts: {}",
                        attempt + 1,
                        pg_message(&e)
                    ),
                });
            }
        }
    }
}

/// Streams the query's rows to `sink`.
pub fn read_postgres(plan: &SourcePlan, batch_rows: usize, sink: &mut Sink) -> Result<()> {
    let Connector::Postgres { query, .. } = &plan.connector else {
        return Err(Error::Config {
            source_id: plan.def.id.into(),
            msg: "not a postgres connector".into(),
        });
    };
    let (mut client, host) = connect(plan)?;
    let fail = |msg: String| Error::Postgres {
        source_id: plan.def.id.into(),
        host: host.clone(),
        msg,
    };
    let query = query.trim().trim_end_matches(';');
    let copy = format!("COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)");
    let reader = client
        .copy_out(copy.as_str())
        .map_err(|e| fail(format!("query failed: {}", pg_message(&e))))?;
    let label = format!("postgres://{host}");
    // Rows of a query result are numbered from 1, whatever line ends their values hold.
    let sink = &mut |label: &str, recs: Vec<crate::raw::RawRecord>| {
        sink(label, crate::raw::resolve(plan, label, recs)?)
    };
    read_csv(
        plan,
        reader,
        &label,
        b',',
        b'"',
        Numbering::Rows,
        batch_rows,
        sink,
    )
    .map_err(|e| match e {
        Error::Format { .. } | Error::Config { .. } => e,
        other => fail(format!("reading the result failed: {other}")),
    })
}

/// A PostgreSQL error with the server's message or the underlying cause, not just "db error".
pub fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
    }
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    match crate::pg_tls::refusal(&msg) {
        Some(why) => format!("TLS: the server's certificate was refused: {why}"),
        None => msg,
    }
}
