//! Process CPU and memory, read from `/proc/self` when rendered.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Clock ticks per second of `/proc/<pid>/stat` times (fixed at 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;
/// Page size for `statm` (4 KiB on the platforms Weft runs on).
const PAGE_BYTES: i64 = 4096;

pub struct ProcessMetrics {
    cpu: Counter<f64, AtomicU64>,
    resident: Gauge,
    threads: Gauge,
}

impl ProcessMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let cpu = Counter::<f64, AtomicU64>::default();
        registry.register(
            "process_cpu_seconds",
            "User and system CPU time of the weft process",
            cpu.clone(),
        );
        let resident = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the weft process",
            resident.clone(),
        );
        let threads = Gauge::default();
        registry.register(
            "process_threads",
            "Threads of the weft process",
            threads.clone(),
        );
        ProcessMetrics {
            cpu,
            resident,
            threads,
        }
    }

    /// Reads `/proc/self/stat` and `/proc/self/statm`; leaves values as they are elsewhere.
    pub fn refresh(&self) {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let num = |i: usize| {
                    fields
                        .get(i)
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(0.0)
                };
                let total = (num(11) + num(12)) / TICKS_PER_SEC;
                let seen = self.cpu.get();
                if total > seen {
                    self.cpu.inc_by(total - seen);
                }
                self.threads.set(num(17) as i64);
            }
        }
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm")
            && let Some(pages) = statm
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<i64>().ok())
        {
            self.resident.set(pages * PAGE_BYTES);
        }
    }
}
