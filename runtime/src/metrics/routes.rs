//! Requests by method, route template and status, and their latency: the
//! half of the metrics every request touches, so it is plain atomics.
//!
//! A request finds its [`RouteStats`] in a table of fixed size that is
//! read without a lock (a hash of the method and the template, then a
//! probe of `OnceLock` slots: one acquire load each) and filled on first
//! sight of a pair; recording is three relaxed `fetch_add`s (status,
//! latency bucket, latency sum). Nothing is allocated or formatted per
//! request: labels are written when Prometheus scrapes.
//!
//! **Invariant (bounded cardinality):** the route label is the router's
//! template (`/api/v1/projects/{id}`), never the path a client sent, and
//! at most [`SLOTS`] pairs and [`STATUSES`] statuses per pair are kept;
//! the rest are counted under `route="other"` or `status="other"`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Slots of the route table: distinct (method, template) pairs kept.
pub(crate) const SLOTS: usize = 512;
/// Slots probed before a pair counts as `other`.
const PROBES: usize = 32;
/// Distinct statuses kept per pair.
pub(crate) const STATUSES: usize = 12;

/// Upper bounds of the latency buckets, in seconds (`+Inf` follows).
const BOUNDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// [`BOUNDS`] in nanoseconds, which requests are compared with.
const BOUNDS_NS: [u64; 13] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The methods kept as labels; anything else is `other`.
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"];

fn method_index(method: &str) -> u8 {
    match method {
        "GET" => 0,
        "POST" => 1,
        "PUT" => 2,
        "PATCH" => 3,
        "DELETE" => 4,
        "HEAD" => 5,
        "OPTIONS" => 6,
        _ => 7,
    }
}

/// One status seen for a pair and how often.
#[derive(Debug, Default)]
struct Status {
    /// 0 while the slot is free.
    code: AtomicU16,
    count: AtomicU64,
}

/// The counters of one (method, route template) pair.
#[derive(Debug)]
pub(crate) struct RouteStats {
    method: u8,
    route: Box<str>,
    statuses: [Status; STATUSES],
    /// Statuses past the [`STATUSES`] kept.
    other_statuses: AtomicU64,
    /// Non-cumulative: `buckets[i]` counts latencies in `(BOUNDS[i-1], BOUNDS[i]]`.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_ns: AtomicU64,
}

impl RouteStats {
    fn new(method: u8, route: &str) -> Self {
        Self {
            method,
            route: route.into(),
            statuses: Default::default(),
            other_statuses: AtomicU64::new(0),
            buckets: Default::default(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Counts one answer with `status` that took `elapsed`.
    pub(crate) fn record(&self, status: u16, elapsed: Duration) {
        self.count(status);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(BOUNDS_NS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// Counts one answer with `status`, without a latency (answers given
    /// before any timing started: the router's fallback).
    pub(crate) fn count(&self, status: u16) {
        for slot in &self.statuses {
            let code = match slot.code.load(Relaxed) {
                0 => match slot.code.compare_exchange(0, status, Relaxed, Relaxed) {
                    Ok(_) => status,
                    Err(taken) => taken,
                },
                code => code,
            };
            if code == status {
                slot.count.fetch_add(1, Relaxed);
                return;
            }
        }
        self.other_statuses.fetch_add(1, Relaxed);
    }
}

/// Every pair seen, and `other` for those past the table's size.
#[derive(Debug)]
pub(crate) struct Routes {
    slots: Box<[OnceLock<Box<RouteStats>>]>,
    other: RouteStats,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            other: RouteStats::new(METHODS.len() as u8 - 1, "other"),
        }
    }
}

/// FNV-1a: short keys, no allocation, good enough spread for a table
/// whose keys are the router's own templates.
fn hash(method: u8, route: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(method);
    for byte in route.bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as usize
}

impl Routes {
    /// The counters of `method` on the route template `route`.
    pub(crate) fn get(&self, method: &str, route: &str) -> &RouteStats {
        let method = method_index(method);
        let start = hash(method, route);
        for probe in 0..PROBES {
            let slot = &self.slots[(start + probe) % SLOTS];
            let stats = slot.get_or_init(|| Box::new(RouteStats::new(method, route)));
            if stats.method == method && *stats.route == *route {
                return stats;
            }
        }
        &self.other
    }

    fn each(&self) -> impl Iterator<Item = &RouteStats> {
        self.slots
            .iter()
            .filter_map(OnceLock::get)
            .map(|stats| &**stats)
            .chain(std::iter::once(&self.other))
    }
}

/// `route_requests_total` and `route_request_duration_seconds`, written
/// from the atomics when Prometheus scrapes.
impl Collector for Routes {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        {
            let mut family = encoder.encode_descriptor(
                "rookery_http_requests",
                "API requests answered, by method, route template and status.",
                None,
                MetricType::Counter,
            )?;
            for stats in self.each() {
                let pair = [("method", METHODS[usize::from(stats.method)]), ("route", &*stats.route)];
                for slot in &stats.statuses {
                    let code = slot.code.load(Relaxed);
                    if code != 0 {
                        let labels = (pair, [("status", code)]);
                        family
                            .encode_family(&labels)?
                            .encode_counter::<NoLabelSet, u64, u64>(&slot.count.load(Relaxed), None)?;
                    }
                }
                let other = stats.other_statuses.load(Relaxed);
                if other != 0 {
                    let labels = (pair, [("status", "other")]);
                    family
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, u64, u64>(&other, None)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "rookery_http_request_duration_seconds",
            "Time from routing an API request to its response, by method and route template.",
            None,
            MetricType::Histogram,
        )?;
        for stats in self.each() {
            // Per bucket, not cumulative: the encoder adds them up.
            let mut count = 0;
            let mut buckets = [(0.0, 0); BOUNDS.len() + 1];
            for (i, bucket) in stats.buckets.iter().enumerate() {
                let n = bucket.load(Relaxed);
                count += n;
                buckets[i] = (BOUNDS.get(i).copied().unwrap_or(f64::INFINITY), n);
            }
            if count == 0 {
                continue;
            }
            let labels = [("method", METHODS[usize::from(stats.method)]), ("route", &*stats.route)];
            let sum = stats.sum_ns.load(Relaxed) as f64 / 1e9;
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_kept_apart_and_statuses_counted() {
        let routes = Routes::default();
        let list = routes.get("GET", "/api/v1/projects");
        list.record(200, Duration::from_micros(700));
        list.record(200, Duration::from_millis(3));
        routes
            .get("GET", "/api/v1/projects")
            .record(404, Duration::from_secs(20));
        routes.get("POST", "/api/v1/projects").record(201, Duration::ZERO);
        assert!(std::ptr::eq(list, routes.get("GET", "/api/v1/projects")));
        assert!(!std::ptr::eq(list, routes.get("POST", "/api/v1/projects")));
        let counts: Vec<(u16, u64)> = list
            .statuses
            .iter()
            .map(|s| (s.code.load(Relaxed), s.count.load(Relaxed)))
            .filter(|(code, _)| *code != 0)
            .collect();
        assert_eq!(counts, [(200, 2), (404, 1)]);
        let buckets: Vec<u64> = list.buckets.iter().map(|b| b.load(Relaxed)).collect();
        assert_eq!(buckets[0], 1, "0.7 ms is in the first bucket");
        assert_eq!(buckets[2], 1, "3 ms is in (2.5, 5] ms");
        assert_eq!(buckets[BOUNDS.len()], 1, "20 s is in +Inf");
    }

    #[test]
    fn statuses_and_pairs_past_the_bounds_are_other() {
        let routes = Routes::default();
        let stats = routes.get("GET", "/x");
        for code in 200..200 + STATUSES as u16 + 3 {
            stats.count(code);
        }
        assert_eq!(stats.other_statuses.load(Relaxed), 3);
        for i in 0..SLOTS + 10 {
            routes.get("GET", &format!("/r{i}")).count(200);
        }
        assert!(routes.other.statuses[0].count.load(Relaxed) >= 10);
        assert_eq!(routes.get("BREW", "/x").method, 7, "unknown methods are `other`");
    }
}
