//! Protecting and unprotecting packets allocates nothing on the Rust heap.
//!
//! A counting global allocator sees every Rust allocation of this thread. aws-lc's C code
//! would allocate through libc directly and is not counted here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use weft_srtp::{MasterKey, Profile, SrtpSession};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn protect_and_unprotect_do_not_allocate() {
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut sender = SrtpSession::new(&master).unwrap();
        let mut receiver = SrtpSession::new(&master).unwrap();
        let mut packet = Vec::with_capacity(1500);
        let mut rtp = [0u8; 172];
        rtp[..12].copy_from_slice(&[0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let mut rtcp = [0x5au8; 80];
        rtcp[..8].copy_from_slice(&[0x81, 0xc9, 0x00, 0x13, 0, 0, 0, 1]);

        let before = allocations();
        for sequence in 0..2_000u16 {
            rtp[2..4].copy_from_slice(&sequence.to_be_bytes());
            packet.clear();
            packet.extend_from_slice(&rtp);
            sender.protect_rtp(&mut packet).unwrap();
            let len = receiver.unprotect_rtp(&mut packet).unwrap();
            assert_eq!(packet[..len], rtp);

            packet.clear();
            packet.extend_from_slice(&rtcp);
            sender.protect_rtcp(&mut packet).unwrap();
            let len = receiver.unprotect_rtcp(&mut packet).unwrap();
            assert_eq!(packet[..len], rtcp);
        }
        assert_eq!(allocations() - before, 0, "{profile}");
    }
}

#[test]
fn sealing_into_a_buffer_does_not_allocate() {
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut sealer = SrtpSession::new(&master).unwrap();
        let mut receiver = SrtpSession::new(&master).unwrap();
        let mut header = [0x80, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let payload = [0x3cu8; 1200];
        let mut out = [0u8; 1500];

        let before = allocations();
        for sequence in 0..2_000u16 {
            header[2..4].copy_from_slice(&sequence.to_be_bytes());
            let len = sealer.seal_rtp(&header, &payload, &mut out).unwrap();
            let plain_len = receiver.unprotect_rtp(&mut out[..len]).unwrap();
            assert_eq!(out[header.len()..plain_len], payload);
        }
        assert_eq!(allocations() - before, 0, "{profile}");
    }
}
