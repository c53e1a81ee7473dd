//! CPU accounting on a shared machine (Linux `/proc`), as
//! `shared/bench/common/cpuacct.py` does it, but "ours" is this process,
//! its worker processes and the private PostgreSQL cluster's processes
//! (the postmaster's descendants), not everything the `postgres` user
//! owns: other engineers' tests use the shared cluster, which runs as
//! `postgres` too. Foreign = all busy CPU time of the machine minus ours.

use std::collections::HashMap;

fn ticks_per_second() -> f64 {
    // SC_CLK_TCK is 100 on every Linux this runs on.
    100.0
}

/// One look at the machine.
#[derive(Debug, Clone)]
pub struct Snapshot {
    busy: u64,
    total: u64,
    /// pid -> (parent, own user+system ticks)
    procs: HashMap<u32, (u32, u64)>,
}

fn machine() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn process(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let parent = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((parent, utime + stime))
}

impl Snapshot {
    pub fn take() -> Self {
        let mut procs = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok())
                    && let Some(p) = process(pid)
                {
                    procs.insert(pid, p);
                }
            }
        }
        let (busy, total) = machine();
        Self { busy, total, procs }
    }

    /// Whether `pid` descends from (or is) `root`.
    fn under(&self, mut pid: u32, root: u32) -> bool {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match self.procs.get(&pid) {
                Some((parent, _)) if *parent != 0 => pid = *parent,
                _ => return false,
            }
        }
        false
    }

    fn ticks(&self, pids: &[u32]) -> u64 {
        pids.iter().filter_map(|p| self.procs.get(p)).map(|(_, t)| t).sum()
    }
}

/// What a measured window cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU seconds of the worker processes.
    pub workers_s: f64,
    /// CPU seconds of the private cluster's processes.
    pub postgres_s: f64,
    /// CPU seconds of everything else on the machine, as a share of all
    /// of its CPU time in the window (percent).
    pub foreign_pct: f64,
}

/// The CPU used between `before` and `after` by `workers` (and their
/// descendants), by the descendants of `postmaster`, and by processes
/// that are neither ours nor theirs. Processes that ended within the
/// window count as foreign (ours all live across a window).
pub fn usage(before: &Snapshot, after: &Snapshot, workers: &[u32], postmaster: u32) -> Usage {
    let me = std::process::id();
    let pick = |root: &dyn Fn(u32) -> bool| -> Vec<u32> { after.procs.keys().copied().filter(|p| root(*p)).collect() };
    let worker_pids = pick(&|p| workers.iter().any(|w| after.under(p, *w)));
    let pg_pids = pick(&|p| after.under(p, postmaster));
    let own_pids = pick(&|p| after.under(p, me));
    let delta = |pids: &[u32]| {
        let d: i64 = pids
            .iter()
            .map(|p| {
                let now = after.ticks(&[*p]) as i64;
                let then = before.procs.get(p).map_or(0, |(_, t)| *t as i64);
                now - then
            })
            .sum();
        d.max(0) as f64
    };
    let ours: Vec<u32> = {
        let mut all = own_pids.clone();
        all.extend(&pg_pids);
        all.sort_unstable();
        all.dedup();
        all
    };
    let busy = after.busy.saturating_sub(before.busy) as f64;
    let total = after.total.saturating_sub(before.total).max(1) as f64;
    let foreign = (busy - delta(&ours)).max(0.0);
    Usage {
        workers_s: delta(&worker_pids) / ticks_per_second(),
        postgres_s: delta(&pg_pids) / ticks_per_second(),
        foreign_pct: 100.0 * foreign / total,
    }
}
