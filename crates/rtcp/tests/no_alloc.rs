//! Parsing and building allocate nothing on the heap once the output buffer has capacity.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::XorShift;
use weft_rtcp::{Feedback, SenderInfo, append_nack, append_pli, append_sender_report, parse};

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
fn building_and_parsing_do_not_allocate() {
    let mut rng = XorShift::new(0xa110_c001);
    let mut out = Vec::with_capacity(1500);
    let mut checksum = 0u64;

    let before = allocations();
    for _ in 0..2_000 {
        let info = SenderInfo {
            ssrc: rng.next_u32(),
            ntp_timestamp: rng.next_u64(),
            rtp_timestamp: rng.next_u32(),
            packet_count: rng.next_u32(),
            octet_count: rng.next_u32(),
        };
        out.clear();
        append_sender_report(&mut out, &info, "weft-subscriber-cname").unwrap();
        let base = rng.next_u16();
        append_nack(
            &mut out,
            info.ssrc,
            7,
            (0..40).map(|i| base.wrapping_add(i * 3)),
        )
        .unwrap();
        append_pli(&mut out, info.ssrc, 7);

        for feedback in parse(&out) {
            match feedback.unwrap() {
                Feedback::Nack(nack) => checksum += nack.lost().map(u64::from).sum::<u64>(),
                Feedback::Pli(pli) => checksum += u64::from(pli.media_ssrc),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let allocated = allocations() - before;

    assert!(checksum > 0);
    assert_eq!(allocated, 0, "{allocated} allocations in 2000 rounds");
}
