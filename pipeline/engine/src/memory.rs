//! Memory: the allocator's settings for a batch command (no transparent huge pages, freed
//! memory kept), and the engine's memory pool under a limit.

use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing to do). The
/// allocator asks for huge pages on its arenas, and the kernel then zeroes a whole 2 MiB
/// page at the first touch of the engine's short-lived buffers: 43 % of household
/// resolution's time at 1M households went to zeroing pages (benches/README.md). Call once,
/// first thing in `main`.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!(error = %e, "transparent huge pages stay on");
    }
}

/// Keeps the memory the allocator frees for reuse rather than handing it back to the kernel a
/// second later (mimalloc's `purge_delay` of 1,000 ms, set to never). The engine's stages each
/// last a second or more and each frees its hash tables and buffers before the next builds
/// its own: with the default, each stage's memory was returned and the next stage's first
/// touch of it faulted fresh zeroed pages back in, 0.7-0.85 M page faults and 2.5-4 s of
/// kernel time per 1M-household core against 0.27-0.3 M and 1.5-2 s kept (peak RSS 0.95-1.0
/// GiB against 1.1-1.2; benches/README.md). A `MIMALLOC_PURGE_DELAY` in the environment is
/// left to rule. Call in `main`, before any thread is started, for a batch command without a
/// memory limit: not for the long-running review server, nor under `--memory-limit`, where
/// the user asked for memory over speed (a 1M core under a 300 MiB limit peaked at 0.98-1.02
/// GiB with freed memory kept against 0.73 without).
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    set_purge_delay(-1);
}

/// mimalloc's `purge_delay` option: its place in `mi_option_e` (mimalloc.h of the v3 sources
/// `libmimalloc-sys` builds), which the sys crate names no constant for; between its
/// `mi_option_eager_commit_delay` (14) and `mi_option_use_numa_nodes` (16). The test below
/// holds it to the option's default, 1,000 ms.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's `purge_delay`, in milliseconds (negative: never).
#[allow(unsafe_code)]
fn set_purge_delay(ms: std::ffi::c_long) {
    // SAFETY: `mi_option_set` stores a number in mimalloc's static table of options, at the
    // index of a known option; it takes no pointer. It is a plain store, so it is called
    // before any other thread is started (`keep_freed_memory`, from `main` before the
    // runtime starts). mimalloc reads the option each time it schedules a purge.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, ms) };
}

/// mimalloc's `purge_delay`, in milliseconds.
#[cfg(test)]
#[allow(unsafe_code)]
fn purge_delay() -> std::ffi::c_long {
    // SAFETY: `mi_option_get` reads mimalloc's table of options at a known index; no pointer.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

/// The engine's memory pool under a limit of `bytes`: DataFusion's fair spill pool, but for
/// the hash repartitions' batches in flight, which it always admits.
///
/// DataFusion 55's `RepartitionExec`, when the pool refuses a batch, writes it to a spill file
/// for its output partition; when two of its inputs spill at once the reader waits on the
/// older file for a batch that is in the newer one, and the query stops for good, every
/// thread parked (apache/datafusion#24883, fixed after 55.2.0, the latest release). A 1M
/// household core under `--memory-limit 300` stalled so in 2 of 11 runs, in the asset sums.
/// Admitted, the repartitions never spill. Their batches in flight are few (a repartition's
/// senders wait once every output channel holds a batch) and are counted in the pool's total,
/// but the fair pool measures each sort's and aggregation's share against the memory held by
/// what cannot spill, so they can take the pool past its limit by those batches.
pub(crate) fn memory_pool(bytes: usize) -> std::sync::Arc<dyn MemoryPool> {
    std::sync::Arc::new(RepartitionsAdmitted(FairSpillPool::new(bytes)))
}

/// [`memory_pool`]: a fair spill pool whose `RepartitionExec` reservations always grow.
#[derive(Debug)]
struct RepartitionsAdmitted(FairSpillPool);

impl std::fmt::Display for RepartitionsAdmitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (repartitions admitted)", self.0)
    }
}

impl MemoryPool for RepartitionsAdmitted {
    fn name(&self) -> &str {
        "RepartitionsAdmitted"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.0.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.0.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, n: usize) {
        self.0.grow(reservation, n)
    }

    fn shrink(&self, reservation: &MemoryReservation, n: usize) {
        self.0.shrink(reservation, n)
    }

    fn try_grow(&self, reservation: &MemoryReservation, n: usize) -> datafusion::error::Result<()> {
        // A repartition's output channel: "RepartitionExec[{partition}]" (its merge, when it
        // keeps an order, "RepartitionExec[Merge {partition}]", is not a spiller anyway).
        if reservation
            .consumer()
            .name()
            .starts_with("RepartitionExec[")
        {
            self.0.grow(reservation, n);
            Ok(())
        } else {
            self.0.try_grow(reservation, n)
        }
    }

    fn reserved(&self) -> usize {
        self.0.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.0.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use datafusion::datasource::MemTable;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::{memory_pool, purge_delay, set_purge_delay};

    // apache/datafusion#24883's query: a distinct count on two partitions in tiny batches under
    // a 2 MiB limit makes the repartitions spill, and with DataFusion 55.2.0's fair spill pool
    // one of the first few attempts never finished (every worker parked). Through the
    // engine's pool each attempt finishes, with the right counts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_memory_limit_does_not_stall_the_repartitions() {
        let data = SessionContext::new()
            .sql(
                "SELECT v % 13 AS g, repeat(CAST(v % 337 AS VARCHAR), 16) AS trace_id \
                 FROM generate_series(1, 40000) AS s(v)",
            )
            .await
            .unwrap();
        let schema = Arc::new(data.schema().as_arrow().clone());
        let batches = data.collect().await.unwrap();
        for attempt in 0..12 {
            let runtime = RuntimeEnvBuilder::new()
                .with_memory_pool(memory_pool(2 << 20))
                .build_arc()
                .unwrap();
            let config = SessionConfig::new()
                .with_target_partitions(2)
                .with_batch_size(64)
                .set_usize(
                    "datafusion.execution.sort_spill_reservation_bytes",
                    64 << 10,
                );
            let ctx = SessionContext::new_with_config_rt(config, runtime);
            let table = MemTable::try_new(schema.clone(), vec![batches.clone()]).unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            let query = async {
                ctx.sql("SELECT g, COUNT(DISTINCT trace_id) AS n FROM t GROUP BY g")
                    .await?
                    .collect()
                    .await
            };
            let out = tokio::time::timeout(Duration::from_secs(30), query)
                .await
                .unwrap_or_else(|_| panic!("attempt {attempt} stalled"))
                .unwrap();
            let counts = arrow::compute::concat_batches(&out[0].schema(), &out).unwrap();
            assert_eq!(counts.num_rows(), 13);
            // 337 values of `v % 337` spread over the 13 groups: every group sees all 337.
            let n = counts.column(1);
            let n = n
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            assert!(n.iter().all(|c| c == Some(337)), "attempt {attempt}: {n:?}");
        }
    }

    #[test]
    fn the_purge_delay_is_the_option_set() {
        // The option at `PURGE_DELAY` has the purge delay's default (no other of mimalloc's
        // options defaults to 1,000), unless the environment set it. (This test binary's
        // allocator is the system's: no other thread reads mimalloc's options meanwhile.)
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay(), 1_000);
        }
        set_purge_delay(-1);
        assert_eq!(purge_delay(), -1);
        set_purge_delay(1_000);
        assert_eq!(purge_delay(), 1_000);
    }
}
