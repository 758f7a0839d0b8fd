//! Reading the server's `/metrics` (Prometheus text or OpenMetrics): process CPU, resident
//! memory and the forwarded-packet counters, whatever labels they carry.

/// The server's process CPU counter.
pub const CPU_SERIES: &str = "process_cpu_seconds_total";
/// The server's resident memory gauge.
pub const RSS_SERIES: &str = "process_resident_memory_bytes";

/// What one scrape found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// `process_cpu_seconds_total`, if exported.
    pub cpu_seconds: Option<f64>,
    /// `process_resident_memory_bytes`, if exported.
    pub resident_bytes: Option<f64>,
    /// The sum of every sample of a counter whose name contains `forwarded_packets`, if any.
    pub forwarded_packets: Option<f64>,
    /// Names of the series that made up `forwarded_packets`.
    pub forwarded_series: Vec<String>,
    /// Every series name seen (without labels), sorted.
    pub names: Vec<String>,
}

/// Parses an exposition; lines it cannot read are skipped.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = sample(line) else {
            continue;
        };
        if !scrape.names.iter().any(|n| n == name) {
            scrape.names.push(name.to_owned());
        }
        if name == CPU_SERIES {
            scrape.cpu_seconds = Some(scrape.cpu_seconds.unwrap_or(0.0) + value);
        } else if name == RSS_SERIES {
            scrape.resident_bytes = Some(value);
        } else if name.contains("forwarded_packets") && !name.ends_with("_created") {
            scrape.forwarded_packets = Some(scrape.forwarded_packets.unwrap_or(0.0) + value);
            if !scrape.forwarded_series.iter().any(|n| n == name) {
                scrape.forwarded_series.push(name.to_owned());
            }
        }
    }
    scrape.names.sort();
    scrape
}

/// `name{labels} value [timestamp]` → `(name, value)`.
fn sample(line: &str) -> Option<(&str, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let rest = if line[name_end..].starts_with('{') {
        let close = line.rfind('}')?;
        &line[close + 1..]
    } else {
        &line[name_end..]
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_and_forwarded_counters() {
        let text = "# HELP process_cpu_seconds_total CPU.\n\
            # TYPE process_cpu_seconds_total counter\n\
            process_cpu_seconds_total 12.5\n\
            process_resident_memory_bytes 1.6777216e7\n\
            weft_media_forwarded_packets_total{kind=\"audio\"} 100\n\
            weft_media_forwarded_packets_total{kind=\"video\",shard=\"0\"} 250 1700000000\n\
            weft_media_forwarded_packets_created{kind=\"audio\"} 1.7e9\n\
            weft_http_requests_total{route=\"/a b}\",method=\"GET\",status=\"200\"} 3\n\
            broken line\n\
            # EOF\n";
        let s = parse(text);
        assert_eq!(s.cpu_seconds, Some(12.5));
        assert_eq!(s.resident_bytes, Some(16_777_216.0));
        assert_eq!(s.forwarded_packets, Some(350.0));
        assert_eq!(
            s.forwarded_series,
            vec!["weft_media_forwarded_packets_total"]
        );
        assert!(s.names.contains(&"weft_http_requests_total".to_owned()));
    }

    #[test]
    fn missing_series_are_none() {
        let s = parse("process_threads 4\n");
        assert_eq!(
            (s.cpu_seconds, s.resident_bytes, s.forwarded_packets),
            (None, None, None)
        );
        assert_eq!(s.names, vec!["process_threads"]);
    }
}
