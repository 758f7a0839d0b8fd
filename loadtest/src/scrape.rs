//! Where the sampler reads the server's counters: its Prometheus `/metrics`, or, with
//! `--metrics proc:<pid>`, the CPU time and resident memory of a local process from
//! `/proc/<pid>/stat` and `/proc/<pid>/status` (for servers without `/metrics`, and to measure
//! every server the same way).

use anyhow::{Context as _, Result};

use crate::http::{HttpUrl, request};
use crate::metrics::{self, Scrape};

/// A source of [`Scrape`]s.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `/metrics` URL.
    Http(HttpUrl),
    /// A process on this host: its CPU and resident memory.
    Proc(u32),
}

impl Source {
    /// `""` → none, `proc:<pid>` → [`Source::Proc`], else a URL.
    pub fn parse(spec: &str) -> Result<Option<Self>> {
        if spec.is_empty() {
            return Ok(None);
        }
        if let Some(pid) = spec.strip_prefix("proc:") {
            let pid = pid.parse().with_context(|| format!("{spec}: not a pid"))?;
            return Ok(Some(Self::Proc(pid)));
        }
        Ok(Some(Self::Http(HttpUrl::parse(spec)?)))
    }

    /// One reading.
    pub async fn scrape(&self) -> Result<Scrape, String> {
        match self {
            Self::Http(url) => match request("GET", url, None, None).await {
                Ok((200, body)) => Ok(metrics::parse(&String::from_utf8_lossy(&body))),
                Ok((status, _)) => Err(format!("{}: HTTP {status}", url.path)),
                Err(e) => Err(format!("{e:#}")),
            },
            Self::Proc(pid) => {
                let path = format!("/proc/{pid}/stat");
                let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                let cpu_seconds = cpu_seconds(&stat, clock_ticks())
                    .ok_or_else(|| format!("{path}: unreadable"))?;
                let status_path = format!("/proc/{pid}/status");
                let status = std::fs::read_to_string(&status_path)
                    .map_err(|e| format!("{status_path}: {e}"))?;
                let resident_bytes = resident_bytes(&status);
                let mut names = vec![metrics::CPU_SERIES.to_owned()];
                if resident_bytes.is_some() {
                    names.push(metrics::RSS_SERIES.to_owned());
                }
                Ok(Scrape {
                    cpu_seconds: Some(cpu_seconds),
                    resident_bytes,
                    names,
                    ..Scrape::default()
                })
            }
        }
    }
}

/// Clock ticks per second of `/proc` times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// User + system CPU seconds of every thread of the process, from a `/proc/<pid>/stat` line.
fn cpu_seconds(stat: &str, ticks: f64) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// Resident set size in bytes, from the `VmRSS:` line of a `/proc/<pid>/status` (given in kB,
/// which the kernel means as KiB).
fn resident_bytes(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let kib: f64 = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then_some(kib * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert!(Source::parse("").unwrap().is_none());
        assert!(matches!(
            Source::parse("proc:42").unwrap(),
            Some(Source::Proc(42))
        ));
        assert!(matches!(
            Source::parse("http://127.0.0.1:9100/metrics").unwrap(),
            Some(Source::Http(_))
        ));
        assert!(Source::parse("proc:x").is_err());
    }

    #[test]
    fn reads_cpu_from_proc_stat() {
        let stat = "1234 (janus (x) y) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 150 0 0 20 0 9 0";
        assert_eq!(cpu_seconds(stat, 100.0), Some(4.0));
        assert_eq!(cpu_seconds("garbage", 100.0), None);
    }

    #[test]
    fn reads_rss_from_proc_status() {
        let status = "Name:\tweft\nVmPeak:\t  900000 kB\nVmRSS:\t   16896 kB\nRssAnon:\t 8000 kB\n";
        assert_eq!(resident_bytes(status), Some(16_896.0 * 1024.0));
        assert_eq!(resident_bytes("Name:\tkthreadd\nThreads:\t1\n"), None);
        assert_eq!(resident_bytes("VmRSS:\t12 MB\n"), None);
    }

    #[tokio::test]
    async fn reads_our_own_process() {
        let s = Source::Proc(std::process::id()).scrape().await.unwrap();
        assert!(s.cpu_seconds.is_some_and(|c| c >= 0.0));
        // This test process holds at least its own binary's code in memory.
        assert!(s.resident_bytes.is_some_and(|r| r > 1024.0 * 1024.0));
        assert!(s.names.contains(&metrics::RSS_SERIES.to_owned()));
    }
}
