//! hedui's own Ballista processes (issue #29): a scheduler and executors that know the
//! engine's codecs (`hedui_engine::cluster`), so every plan the engine makes can be shipped.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::engine::cluster::{GRPC_MESSAGE_LIMIT, LogicalCodec, PhysicalCodec, scheduler_session};

/// Runs a scheduler on `bind` until it is stopped; an executor silent for
/// `executor_timeout` seconds is taken for dead (its tasks run again on the others).
pub async fn scheduler(bind: SocketAddr, executor_timeout: u64) -> Result<()> {
    anyhow::ensure!(
        executor_timeout >= 2,
        "--executor-timeout: at least 2 seconds"
    );
    let mut config = SchedulerConfig::default()
        .with_hostname(bind.ip().to_string())
        .with_port(bind.port());
    config.bind_host = bind.ip().to_string();
    config.executor_timeout_seconds = executor_timeout;
    config.expire_dead_executor_interval_seconds = (executor_timeout / 4).clamp(1, 15);
    // With no executor left, the running jobs fail after the same wait.
    config.no_executors_grace_period_seconds = executor_timeout;
    config.override_logical_codec = Some(Arc::new(LogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(PhysicalCodec::default()));
    config.override_session_builder = Some(Arc::new(scheduler_session));
    // Plans carry the key tests' filters (2 MiB each at 1,000,000 households).
    config.grpc_server_max_decoding_message_size = GRPC_MESSAGE_LIMIT as u32;
    config.grpc_server_max_encoding_message_size = GRPC_MESSAGE_LIMIT as u32;
    config.grpc_client_max_message_size = GRPC_MESSAGE_LIMIT as u32;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .context("setting up the scheduler's state")?;
    tracing::info!(%bind, "hedui cluster scheduler");
    start_server(cluster, bind, Arc::new(config))
        .await
        .with_context(|| format!("the scheduler on {bind}"))
}

/// Where an executor listens and whom it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `df://HOST:PORT` (or `HOST:PORT`).
    pub scheduler: String,
    /// Tasks run at once (0: one per core).
    pub slots: usize,
    /// The folder for shuffle files (a temporary one when not given).
    pub work_dir: Option<std::path::PathBuf>,
    /// The Arrow Flight port (the gRPC port is the next one).
    pub port: u16,
    /// The address to bind and advertise.
    pub host: String,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat: u64,
}

/// `HOST:PORT` of a `df://HOST:PORT` URL (or of `HOST:PORT`).
pub fn host_port(url: &str) -> Result<(String, u16)> {
    let rest = url.strip_prefix("df://").unwrap_or(url);
    let (host, port) = rest
        .rsplit_once(':')
        .with_context(|| format!("{url}: expected df://HOST:PORT"))?;
    let port = port
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("{url}: the port is not a number"))?;
    anyhow::ensure!(!host.is_empty(), "{url}: no host");
    Ok((host.to_string(), port))
}

/// Runs an executor until it is stopped.
pub async fn executor(o: ExecutorOptions) -> Result<()> {
    let (scheduler_host, scheduler_port) = host_port(&o.scheduler)?;
    let config = ExecutorProcessConfig {
        bind_host: o.host.clone(),
        external_host: Some(o.host.clone()),
        port: o.port,
        grpc_port: o.port + 1,
        scheduler_host,
        scheduler_port,
        vcores: if o.slots == 0 {
            crate::engine::cores()
        } else {
            o.slots
        },
        // A scheduler starting at the same time is waited for.
        scheduler_connect_timeout_seconds: 60,
        executor_heartbeat_interval_seconds: o.heartbeat.max(1),
        work_dir: o
            .work_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned()),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        grpc_max_decoding_message_size: GRPC_MESSAGE_LIMIT as u32,
        grpc_max_encoding_message_size: GRPC_MESSAGE_LIMIT as u32,
        ..Default::default()
    };
    tracing::info!(scheduler = %o.scheduler, port = o.port, slots = o.slots, "hedui cluster executor");
    start_executor_process(Arc::new(config))
        .await
        .with_context(|| format!("the executor serving {}", o.scheduler))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduler_url_gives_its_host_and_port() {
        assert_eq!(
            host_port("df://127.0.0.1:50050").unwrap(),
            ("127.0.0.1".into(), 50050)
        );
        assert_eq!(
            host_port("sched.local:9/").unwrap(),
            ("sched.local".into(), 9)
        );
        assert!(host_port("df://nohost").is_err());
        assert!(host_port("df://:50050").is_err());
        assert!(host_port("df://h:port").is_err());
    }
}
