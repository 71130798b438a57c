//! CPU time used so far, for the debug log: by the process (the engine's stages) and by
//! the calling thread (a Parquet encoder).

/// CPU time (user and system) used so far by `who`; zero where it cannot be read.
fn cpu_time(who: nix::sys::resource::UsageWho) -> std::time::Duration {
    let t = |v: nix::sys::time::TimeVal| {
        std::time::Duration::from_micros(
            (v.tv_sec().max(0) as u64) * 1_000_000 + v.tv_usec().max(0) as u64,
        )
    };
    nix::sys::resource::getrusage(who)
        .map(|u| t(u.user_time()) + t(u.system_time()))
        .unwrap_or_default()
}

/// CPU time used so far by the whole process (every thread).
pub(crate) fn process() -> std::time::Duration {
    cpu_time(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// CPU time used so far by the calling thread (Linux; zero elsewhere).
pub(crate) fn thread() -> std::time::Duration {
    #[cfg(target_os = "linux")]
    return cpu_time(nix::sys::resource::UsageWho::RUSAGE_THREAD);
    #[cfg(not(target_os = "linux"))]
    std::time::Duration::ZERO
}
