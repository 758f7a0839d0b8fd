//! Kernel UDP drop counters on this host (Linux `/proc/net`): where a loopback test loses packets
//! before any program sees them.

use std::net::Ipv4Addr;

/// `RcvbufErrors` of the `Udp:` lines of `/proc/net/snmp` (host-wide, since boot).
pub fn rcvbuf_errors(snmp: &str) -> Option<u64> {
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let header = lines.next()?;
    let values = lines.next()?;
    let column = header
        .split_whitespace()
        .position(|h| h == "RcvbufErrors")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

/// The sum of the `drops` column of `/proc/net/udp` over sockets whose local address and port
/// `mine` accepts.
pub fn socket_drops(udp: &str, mine: impl Fn(Ipv4Addr, u16) -> bool) -> u64 {
    udp.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (ip, port) = fields.get(1)?.split_once(':')?;
            let ip = Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.swap_bytes());
            let port = u16::from_str_radix(port, 16).ok()?;
            mine(ip, port).then(|| fields.last()?.parse::<u64>().ok())?
        })
        .sum()
}

/// Host-wide receive-buffer drops now, if readable.
pub fn host_rcvbuf_errors() -> Option<u64> {
    rcvbuf_errors(&std::fs::read_to_string("/proc/net/snmp").ok()?)
}

/// Drops on the open sockets whose local address and port `mine` accepts, if readable.
pub fn open_socket_drops(mine: impl Fn(Ipv4Addr, u16) -> bool) -> Option<u64> {
    Some(socket_drops(
        &std::fs::read_to_string("/proc/net/udp").ok()?,
        mine,
    ))
}

/// The host-candidate ports of an SDP (`a=candidate:… <ip> <port> typ host`).
pub fn candidate_ports(sdp: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = sdp
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_whitespace().nth(5)?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rcvbuf_errors() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
            Udp: 100 2 7 90 5 0\n\
            UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
            UdpLite: 0 0 0 0 0 0\n";
        assert_eq!(rcvbuf_errors(snmp), Some(5));
        assert_eq!(rcvbuf_errors("Ip: x\n"), None);
    }

    #[test]
    fn sums_drops_of_chosen_sockets() {
        let udp = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1: 0201007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000 11\n\
            2: 0100007F:9C41 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 0000 30\n\
            3: 0302007F:9C42 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000 4\n\
            garbage\n";
        // 127.0.1.2 and 127.0.2.3 are ours; 127.0.0.1 is not.
        assert_eq!(socket_drops(udp, |ip, _| ip.octets()[2] >= 1), 15);
        assert_eq!(socket_drops(udp, |ip, _| ip == Ipv4Addr::LOCALHOST), 30);
        assert_eq!(socket_drops(udp, |_, port| port == 0x9c42), 4);
    }

    #[test]
    fn finds_candidate_ports() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
            a=candidate:2 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
            a=candidate:3 1 tcp 2130706431 127.0.0.1 40001 typ host tcptype passive\r\na=x\r\n";
        assert_eq!(candidate_ports(sdp), vec![40000, 40001]);
        assert!(candidate_ports("v=0\r\n").is_empty());
    }
}
