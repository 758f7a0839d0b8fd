//! Passive ICE-TCP: a listener per shard and RFC 4571 framing (two-byte length before every
//! datagram). Frames are demultiplexed exactly like UDP datagrams.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use super::slab::Slab;

/// Tokens of TCP connections start here (below: socket, waker, listener, legs).
pub(crate) const TCP_CONNS: usize = 1 << 32;
/// Most simultaneous TCP connections per shard.
const MAX_CONNS: usize = 4096;
/// Most simultaneous TCP connections from one IP address (many clients may share a NAT).
const MAX_CONNS_PER_IP: usize = 256;
/// Most bytes buffered per connection, in either direction.
const MAX_BUFFER: usize = 256 * 1024;
/// A connection that has sent no complete frame this long after it opened is closed.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that has sent nothing this long is closed (a live ICE peer sends consent
/// checks every few seconds).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One accepted connection.
struct Conn {
    stream: TcpStream,
    remote: SocketAddr,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    opened: Instant,
    last_read: Instant,
    framed: bool,
}

/// The shard's TCP side.
pub(crate) struct Tcp {
    listener: TcpListener,
    conns: Slab<Conn>,
    by_remote: HashMap<SocketAddr, usize>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Tcp {
    pub(crate) fn new(listener: TcpListener) -> Self {
        Self {
            listener,
            conns: Slab::default(),
            by_remote: HashMap::new(),
            per_ip: HashMap::new(),
        }
    }

    pub(crate) fn listener(&mut self) -> &mut TcpListener {
        &mut self.listener
    }

    /// Accepts pending connections (dropping those over the total or per-address cap).
    pub(crate) fn accept(&mut self, registry: &Registry, now: Instant) {
        loop {
            match self.listener.accept() {
                Ok((stream, remote)) => {
                    let from_ip = self.per_ip.get(&remote.ip()).copied().unwrap_or(0);
                    if self.conns.len() >= MAX_CONNS || from_ip >= MAX_CONNS_PER_IP {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let (index, _) = self.conns.insert(Conn {
                        stream,
                        remote,
                        rbuf: Vec::new(),
                        wbuf: Vec::new(),
                        opened: now,
                        last_read: now,
                        framed: false,
                    });
                    let registered = self.conns.get_mut(index).map(|c| {
                        registry.register(
                            &mut c.stream,
                            Token(TCP_CONNS + index),
                            Interest::READABLE,
                        )
                    });
                    if matches!(registered, Some(Ok(()))) {
                        self.by_remote.insert(remote, index);
                        *self.per_ip.entry(remote.ip()).or_default() += 1;
                    } else {
                        self.conns.remove(index);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Reads what a connection has and returns its complete frames (each a datagram) with the
    /// remote address; closes the connection on end of stream, error or overflow.
    pub(crate) fn read(
        &mut self,
        index: usize,
        registry: &Registry,
        frames: &mut Vec<Vec<u8>>,
        now: Instant,
    ) -> Option<SocketAddr> {
        let conn = self.conns.get_mut(index)?;
        let remote = conn.remote;
        let mut chunk = [0u8; 4096];
        let mut open = true;
        loop {
            match conn.stream.read(&mut chunk) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => {
                    conn.last_read = now;
                    conn.rbuf.extend_from_slice(&chunk[..n]);
                    if conn.rbuf.len() > MAX_BUFFER {
                        open = false;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    open = false;
                    break;
                }
            }
        }
        let mut at = 0;
        while conn.rbuf.len() >= at + 2 {
            let len = usize::from(u16::from_be_bytes([conn.rbuf[at], conn.rbuf[at + 1]]));
            if conn.rbuf.len() < at + 2 + len {
                break;
            }
            frames.push(conn.rbuf[at + 2..at + 2 + len].to_vec());
            at += 2 + len;
            conn.framed = true;
        }
        conn.rbuf.drain(..at);
        if !open {
            self.close(index, registry);
        }
        Some(remote)
    }

    /// Sends one datagram, framed, to the connection from `remote`; buffers what the socket does
    /// not take. `false` if there is no such connection or its buffer is full.
    pub(crate) fn send(
        &mut self,
        remote: SocketAddr,
        datagram: &[u8],
        registry: &Registry,
    ) -> bool {
        let Some(&index) = self.by_remote.get(&remote) else {
            return false;
        };
        let Some(conn) = self.conns.get_mut(index) else {
            return false;
        };
        let Ok(len) = u16::try_from(datagram.len()) else {
            return false;
        };
        if conn.wbuf.len() + datagram.len() + 2 > MAX_BUFFER {
            return false;
        }
        let was_empty = conn.wbuf.is_empty();
        conn.wbuf.extend_from_slice(&len.to_be_bytes());
        conn.wbuf.extend_from_slice(datagram);
        if was_empty {
            self.flush(index, registry);
        }
        true
    }

    /// Writes buffered output; waits for writability when the socket is full.
    pub(crate) fn flush(&mut self, index: usize, registry: &Registry) {
        let Some(conn) = self.conns.get_mut(index) else {
            return;
        };
        while !conn.wbuf.is_empty() {
            match conn.stream.write(&conn.wbuf) {
                Ok(0) => break,
                Ok(n) => {
                    conn.wbuf.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.close(index, registry);
                    return;
                }
            }
        }
        let interest = if conn.wbuf.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let _ = registry.reregister(&mut conn.stream, Token(TCP_CONNS + index), interest);
    }

    fn close(&mut self, index: usize, registry: &Registry) {
        if let Some(mut conn) = self.conns.remove(index) {
            let _ = registry.deregister(&mut conn.stream);
            self.by_remote.remove(&conn.remote);
            let ip = conn.remote.ip();
            if let Some(n) = self.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
    }

    /// Closes connections that never sent a frame in time, or went silent.
    pub(crate) fn expire(&mut self, now: Instant, registry: &Registry) {
        let stale: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                let silent = now.saturating_duration_since(c.last_read) >= IDLE_TIMEOUT;
                let mute =
                    !c.framed && now.saturating_duration_since(c.opened) >= FIRST_FRAME_TIMEOUT;
                silent || mute
            })
            .map(|(i, _)| i)
            .collect();
        for index in stale {
            self.close(index, registry);
        }
    }

    /// Open connections (for counters).
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frames_are_split_and_joined_across_reads() {
        let poll = mio::Poll::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tcp = Tcp::new(listener);
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        tcp.accept(poll.registry(), Instant::now());
        assert_eq!(tcp.len(), 1);
        client
            .write_all(&[0, 3, b'a', b'b', b'c', 0, 2, b'x'])
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut frames = Vec::new();
        tcp.read(0, poll.registry(), &mut frames, Instant::now());
        assert_eq!(frames, vec![b"abc".to_vec()]);
        client.write_all(b"y").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        frames.clear();
        let remote = tcp.read(0, poll.registry(), &mut frames, Instant::now());
        assert_eq!(frames, vec![b"xy".to_vec()]);
        assert!(tcp.send(remote.unwrap(), b"hello", poll.registry()));
        let mut got = [0u8; 7];
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, &[0, 5, b'h', b'e', b'l', b'l', b'o']);
        drop(client);
        std::thread::sleep(Duration::from_millis(50));
        frames.clear();
        tcp.read(0, poll.registry(), &mut frames, Instant::now());
        assert_eq!(tcp.len(), 0, "closed on end of stream");
    }

    #[test]
    fn silent_and_frameless_connections_expire() {
        let poll = mio::Poll::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tcp = Tcp::new(listener);
        let start = Instant::now();
        let _mute = std::net::TcpStream::connect(addr).unwrap();
        let mut talker = std::net::TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        tcp.accept(poll.registry(), start);
        assert_eq!(tcp.len(), 2);
        talker.write_all(&[0, 1, b'a']).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut frames = Vec::new();
        for index in 0..2 {
            tcp.read(
                index,
                poll.registry(),
                &mut frames,
                start + Duration::from_secs(5),
            );
        }
        assert_eq!(frames.len(), 1);
        tcp.expire(start + FIRST_FRAME_TIMEOUT, poll.registry());
        assert_eq!(tcp.len(), 1, "the connection that sent no frame is closed");
        tcp.expire(
            start + Duration::from_secs(5) + IDLE_TIMEOUT,
            poll.registry(),
        );
        assert_eq!(tcp.len(), 0, "the silent one too, later");
        assert!(tcp.per_ip.is_empty());
    }
}
