//! Passive ICE-TCP: a listener per shard and RFC 4571 framing (two-byte length before every
//! datagram). Frames are demultiplexed exactly like UDP datagrams.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use super::slab::Slab;

/// Tokens of TCP connections start here (below: socket, waker, listener, legs).
pub(crate) const TCP_CONNS: usize = 1 << 32;
/// Most simultaneous TCP connections per shard.
const MAX_CONNS: usize = 4096;
/// Most bytes buffered per connection, in either direction.
const MAX_BUFFER: usize = 256 * 1024;

/// One accepted connection.
struct Conn {
    stream: TcpStream,
    remote: SocketAddr,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
}

/// The shard's TCP side.
pub(crate) struct Tcp {
    listener: TcpListener,
    conns: Slab<Conn>,
    by_remote: HashMap<SocketAddr, usize>,
}

impl Tcp {
    pub(crate) fn new(listener: TcpListener) -> Self {
        Self {
            listener,
            conns: Slab::default(),
            by_remote: HashMap::new(),
        }
    }

    pub(crate) fn listener(&mut self) -> &mut TcpListener {
        &mut self.listener
    }

    /// Accepts pending connections.
    pub(crate) fn accept(&mut self, registry: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((stream, remote)) => {
                    if self.conns.len() >= MAX_CONNS {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let (index, _) = self.conns.insert(Conn {
                        stream,
                        remote,
                        rbuf: Vec::new(),
                        wbuf: Vec::new(),
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
        tcp.accept(poll.registry());
        assert_eq!(tcp.len(), 1);
        client
            .write_all(&[0, 3, b'a', b'b', b'c', 0, 2, b'x'])
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut frames = Vec::new();
        tcp.read(0, poll.registry(), &mut frames);
        assert_eq!(frames, vec![b"abc".to_vec()]);
        client.write_all(b"y").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        frames.clear();
        let remote = tcp.read(0, poll.registry(), &mut frames);
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
        tcp.read(0, poll.registry(), &mut frames);
        assert_eq!(tcp.len(), 0, "closed on end of stream");
    }
}
