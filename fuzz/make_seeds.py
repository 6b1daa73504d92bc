#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the hand-made seed inputs of fuzz/corpus/ (the encoding is in docs/fuzzing.md). Each
# seed reaches one mechanism the fuzzer then mutates around. Regression inputs found by the
# fuzzer are committed beside them as they were found, not generated here.
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# Operation kinds (low nibble of an operation's first byte).
MMU, MMUEXT, UVM, MULTI, STORE, XCHG, LOAD, DMAW, DMAR, MODE, TIMER = 0, 3, 6, 8, 9, 10, 11, 12, 13, 14, 15
# mmuext command indices (into the target's command table).
PIN_L1, PIN_L2, PIN_L3, PIN_L4, UNPIN, NEW_BASEPTR = 0, 1, 2, 3, 4, 5
TLB_FLUSH_MULTI, NEW_USER_BASEPTR, POOL_ADD, POOL_REMOVE = 8, 14, 20, 21
# Value flag-set selectors: 0 none, 1 read-only, 2 read-write, 3 table.
NONE, RO, RW, TABLE = 0, 1, 2, 3
NX = 8
# memory_op shares the mode-switch nibble: its count selects the command.
DECREASE, DECREASE2, POPULATE, INCREASE, DECREASE_ORDER, POPULATE_ORDER = 3, 4, 5, 6, 7, 8


def op(kind, count=1, vcpu=0):
    return bytes([kind | (vcpu << 4) | ((count - 1) << 5)])


def value(flags, frame):
    return bytes([flags, frame])


def remap(frame, flags):  # update_va_mapping of the frame's direct-map alias, INVLPG
    return op(UVM) + bytes([frame]) + value(flags | NX, frame) + bytes([2])


def mmuext(cmd, frame, extra=b""):
    return op(MMUEXT) + bytes([cmd, frame]) + extra


def update(table, index, val, cmd=0):
    return op(MMU) + bytes([cmd, table, index]) + val


SEEDS = {
    # An L1 table built, pinned, written, attacked by DMA, unpinned and made writable again.
    "seed-l1-lifecycle": bytes([0]) + remap(5, RO) + mmuext(PIN_L1, 5) +
    update(5, 0, value(RW | NX, 6)) + op(DMAW) + bytes([5, 0]) + value(RW, 7) +
    mmuext(UNPIN, 5) + remap(5, RW),
    # The page-table pool: add, pin as L1 while pooled, refuse the remove, unpin, remove.
    "seed-pool": bytes([0]) + mmuext(POOL_ADD, 8) + remap(8, RO) + mmuext(PIN_L1, 8) +
    mmuext(POOL_REMOVE, 8) + op(DMAW) + bytes([8, 1]) + value(RW, 9) + mmuext(UNPIN, 8) +
    mmuext(POOL_REMOVE, 8) + remap(8, RW),
    # A two-level tree (L2 -> L1) pinned at L2, then unlinked and reused within one batch.
    "seed-l2-tree": bytes([0]) + remap(10, RO) + remap(11, RO) +
    update(10, 1, value(TABLE, 11)) + mmuext(PIN_L2, 10) + update(10, 1, value(NONE, 0)) +
    mmuext(UNPIN, 10) + remap(11, RW) + remap(10, RW),
    # A linear (self) mapping through the running L4's Xen-reserved and guest slots.
    "seed-linear": bytes([0]) + update(0, 0xC3, value(RO, 0)) + update(0, 0xC0, value(RO, 0)) +
    update(0, 0xC0, value(RW, 0)) + update(0, 0xC0, value(NONE, 0)),
    # Trapped writes to the live initial L1 (emulated) and to the L4 (reflected as a fault).
    "seed-ptwr": bytes([0]) + op(STORE) + bytes([3, 5]) + value(RO, 9) + op(XCHG) + bytes([3, 5]) +
    value(NONE, 0) + op(STORE) + bytes([0, 1]) + value(TABLE, 9) + op(LOAD) + bytes([3, 5]),
    # A multicall: remap, pin, an iret to user mode (no user base: refused), a nested multicall.
    "seed-multicall": bytes([0]) + op(MULTI, 4) + bytes([2, 12]) + value(RO | NX, 12) + bytes([2]) +
    bytes([1, PIN_L1, 12]) + bytes([3]) + bytes([4]) + mmuext(UNPIN, 12),
    # Two vCPUs: a user base pointer, mode switches, multi-vCPU flushes, and a remap seen by both.
    "seed-two-vcpus": bytes([1]) + remap(13, RO) + mmuext(PIN_L4, 13) +
    mmuext(NEW_USER_BASEPTR, 13) + op(MODE, 1, 1) + op(MODE, 2, 1) +
    mmuext(TLB_FLUSH_MULTI, 0, bytes([3])) + op(UVM, 1, 1) + bytes([14]) + value(RO | NX, 14) +
    bytes([4 | 1]),
    # The clock: a short one-shot timer, then long hypercalls that it preempts (continuations).
    "seed-preemption": bytes([0]) + op(TIMER) + bytes([1]) + op(MMU, 7) +
    b"".join(bytes([0, 3, i]) + value(RO | NX, 15 + i) for i in range(7)) + op(TIMER) +
    bytes([1]) + remap(16, RO) + mmuext(PIN_L1, 16),
    # Foreign domains, raw commands (MACHPHYS, NO_TRANSLATE, undefined) and another domain's frames.
    "seed-foreign-raw": bytes([2]) + op(MMU, 8) + bytes([2]) + bytes([0, 3, 0]) + value(RO, 5) +
    bytes([1, 6, 7]) + update(3, 1, value(RO, 0xF0), cmd=3) + update(3, 2, value(RO, 5), cmd=5) +
    mmuext(PIN_L1, 0xF1) + mmuext(POOL_ADD, 0xF6),
    # Caching mode: IOTLB entries of not-present translations, then the frame is mapped again.
    "seed-caching-mode": bytes([4]) + op(DMAR) + bytes([17, 0]) + remap(17, RO) +
    mmuext(PIN_L1, 17) + op(DMAW) + bytes([17, 0]) + value(RW, 9) + mmuext(UNPIN, 17) +
    remap(17, RW) + op(DMAW) + bytes([17, 0]) + value(RW, 9),
    # Frames leave and enter the domain: a free frame given back and its pfn populated again, a
    # pinned table and a live initial table refused (the free frame is unmapped first, so that it
# leaves the domain and makes room), DMA to the given-back frame, a whole
    # order-1 extent, an increase, another domain's reservation.
    "seed-memory-op": bytes([0]) + op(UVM) + bytes([18]) + value(NONE, 0) + bytes([2]) +
    op(MODE, DECREASE) + bytes([18]) + op(DMAW) + bytes([18, 0]) +
    value(RW, 9) + op(MODE, POPULATE) + bytes([18]) + remap(19, RO) + mmuext(PIN_L1, 19) +
    op(MODE, DECREASE2) + bytes([19, 3]) + op(MODE, DECREASE_ORDER) + bytes([1, 0, 20]) +
    op(MODE, INCREASE) + op(MODE, POPULATE_ORDER) + bytes([0, 2, 0, 21]),
    # The superpage-block shape (header 0xf0; frame 4 is the block's first frame): pinned as an
    # L1 it splits Xen 4.17's I/O superpage and is refused to DMA; unpinned and written as a
    # plain page it is writable again, and the block merges back.
    "seed-superpage-block": bytes([0xF0]) + mmuext(PIN_L1, 4) + op(DMAW) + bytes([4, 0]) +
    value(RW, 5) + mmuext(UNPIN, 4) + update(4, 0, value(NONE, 0)) + op(DMAW) + bytes([4, 1]) +
    value(RW, 5),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
