//! What every job records, and what the coordinator makes of it.
//!
//! A job's payload carries its sequence number and the time it was
//! enqueued (taken just before the enqueue call, so the enqueue's own
//! round trips count). The job appends one line to the run's log when it
//! starts its work and again when it ends (`O_APPEND`, one `write` per
//! line, so lines from several worker processes never interleave):
//! `seq enqueued_us started_us ended_us`. Delivery is at least once, so a
//! sequence number may appear twice; the first start counts.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch, the clock every process of the run shares.
pub fn now_us() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_micros()).expect("in range")
}

static LOG: OnceLock<std::fs::File> = OnceLock::new();

/// Opens this worker process's log (`BENCH_LOG`).
pub fn open_log(path: &Path) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the job log");
    LOG.set(file).expect("the log is opened once");
}

/// Records one run of job `seq`.
pub fn record(seq: u64, enqueued_us: i64, started_us: i64, ended_us: i64) {
    let line = format!("{seq} {enqueued_us} {started_us} {ended_us}\n");
    let mut file = LOG.get().expect("open_log first");
    file.write_all(line.as_bytes()).expect("append to the job log");
}

/// One job's first run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub enqueued_us: i64,
    pub started_us: i64,
    pub ended_us: i64,
}

/// The log read back: each sequence number's first run, and how many runs
/// there were in all (more than jobs: some ran twice).
#[derive(Debug, Default)]
pub struct Log {
    pub runs: HashMap<u64, Run>,
    pub lines: usize,
}

impl Log {
    pub fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut log = Self::default();
        // A line still being written has no newline yet: skip it.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let f: Vec<i64> = line.split_whitespace().map(|x| x.parse().expect("a number")).collect();
            let [seq, enqueued_us, started_us, ended_us] = f[..] else {
                panic!("a log line has four fields: {line:?}");
            };
            log.lines += 1;
            let run = Run {
                enqueued_us,
                started_us,
                ended_us,
            };
            log.runs
                .entry(u64::try_from(seq).expect("a sequence number"))
                .and_modify(|r| {
                    if started_us < r.started_us {
                        *r = run;
                    }
                })
                .or_insert(run);
        }
        log
    }

    /// How many of `seqs` have run.
    pub fn done(&self, seqs: std::ops::Range<u64>) -> usize {
        seqs.filter(|s| self.runs.contains_key(s)).count()
    }

    /// The runs of `seqs`.
    pub fn of(&self, seqs: std::ops::Range<u64>) -> Vec<Run> {
        seqs.filter_map(|s| self.runs.get(&s).copied()).collect()
    }
}

/// Jobs per second over `runs`: their count over the time from the first
/// start to the last end.
pub fn throughput(runs: &[Run]) -> f64 {
    let first = runs.iter().map(|r| r.started_us).min().unwrap_or(0);
    let last = runs.iter().map(|r| r.ended_us).max().unwrap_or(0);
    if last <= first {
        return 0.0;
    }
    runs.len() as f64 / ((last - first) as f64 / 1e6)
}

/// Enqueue-to-start latencies in milliseconds: p50, p99 and the largest.
pub fn latency(runs: &[Run]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = runs
        .iter()
        .map(|r| (r.started_us - r.enqueued_us) as f64 / 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: usize| {
        ms.get((ms.len().saturating_sub(1)) * p / 100)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (at(50), at(99), ms.last().copied().unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let runs: Vec<Run> = (0..100)
            .map(|i| Run {
                enqueued_us: 0,
                started_us: i * 1000,
                ended_us: i * 1000 + 10,
            })
            .collect();
        let (p50, p99, max) = latency(&runs);
        assert_eq!((p50, p99, max), (49.0, 98.0, 99.0));
        let rate = throughput(&runs);
        assert!((rate - 100.0 / 0.099_01).abs() < 1.0, "{rate}");
    }
}
