// SPDX-License-Identifier: MIT
// PGT_partial (Xen 4.17): a preemptible validation or devalidation of one L2-L4 table stops
// between entries once the timer interrupt is pending, leaves the table partial, and the
// hypercall's continuation carries on from where it stopped. A validation failing past its first
// entry defers its teardown to old_guest_table, which a continuation finishes. Whatever the
// preemptions, a hypercall ends exactly as an unpreempted one would.
#include <array>
#include <set>

#include "support/pv_fixture.hpp"
#include "xen/dma_adversary.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

// A tree L4 -> one L3 -> `l2s` L2s -> `l1s` L1s each, every L1 mapping one data page read-only
// at its first four entries. Written by plain stores while unpinned (the frames are not tables
// yet), and so validated in one go by the pin of the L4.
struct Tree {
  Pfn l4, l3, data;
  std::vector<Pfn> l2, l1;
  std::vector<Pfn> all() const {
    std::vector<Pfn> out{l4, l3};
    out.insert(out.end(), l2.begin(), l2.end());
    out.insert(out.end(), l1.begin(), l1.end());
    return out;
  }
};

Tree build_tree(PvFixture& fx, unsigned l2s, unsigned l1s) {
  Tree t;
  t.data = fx.alloc();
  EXPECT_EQ(fx.remap(t.data, false), kOk);
  t.l4 = fx.make_table();
  t.l3 = fx.make_table();
  EXPECT_EQ(fx.update(t.l4, 0, fx.pte(t.l3, kTableFlags & ~kRw)), kOk);
  for (unsigned i = 0; i < l2s; ++i) {
    const Pfn l2 = fx.make_table();
    t.l2.push_back(l2);
    EXPECT_EQ(fx.update(t.l3, i, fx.pte(l2, kTableFlags & ~kRw)), kOk);
    for (unsigned j = 0; j < l1s; ++j) {
      const Pfn l1 = fx.make_table();
      t.l1.push_back(l1);
      EXPECT_EQ(fx.update(l2, j, fx.pte(l1, kTableFlags & ~kRw)), kOk);
      for (uint64_t k = 0; k < 4; ++k) EXPECT_EQ(fx.update(l1, k, fx.pte(t.data, kDataRo)), kOk);
    }
  }
  return t;
}

// A clock in which only the handling of a present entry takes time.
void clock_on(PvFixture& fx, double per_entry_ns) {
  std::array<double, sim::kEventCount> units{};
  units[static_cast<std::size_t>(Event::kXenValidateEntriesPresent)] = per_entry_ns;
  units[static_cast<std::size_t>(Event::kXenDevalidateEntriesPresent)] = per_entry_ns;
  fx.ledger.set_clock(units);
}

// The guest's timer armed `period` ns ahead now and again at every continuation (as a guest
// whose timer handler re-arms it would), recording what the continuation points show.
class EveryPeriod : public xen::InterleavingObserver {
 public:
  EveryPeriod(PvFixture& fx, double period) : fx_(fx), period_(period) {
    fx.xen.set_interleaving_observer(this);
    arm();
  }
  ~EveryPeriod() override { fx_.xen.set_interleaving_observer(nullptr); }
  EveryPeriod(const EveryPeriod&) = delete;
  EveryPeriod& operator=(const EveryPeriod&) = delete;

  void at(xen::Hypervisor& xen, const xen::InterleavingPoint& p) override {
    if (p.step != xen::Step::kContinuation) return;
    ++continuations;
    const xen::FrameTable& ft = xen.frame_table();
    for (const Mfn m : xen.domain(fx_.si.domid).pages) {
      if (ft[m].partial) partial_levels.insert(xen::level_of(ft[m].type));
    }
    const xen::Vcpu& v = xen.domain(fx_.si.domid).vcpus[0];
    if (v.old_guest_table) pending_old_guest_table.insert(v.old_guest_table->value);
    const auto problems = xen::audit(xen);
    if (!problems.empty()) audit_problems = problems;
    arm();
  }

  uint64_t continuations = 0;
  std::set<unsigned> partial_levels;
  std::set<uint64_t> pending_old_guest_table;  // mfn values
  std::vector<std::string> audit_problems;

 private:
  void arm() {
    xen::Vcpu& v = fx_.xen.domain(fx_.si.domid).vcpus[0];
    const double deadline = fx_.machine.cpu(v.pcpu).now_ns() + period_;
    v.singleshot_deadline = static_cast<uint64_t>(deadline);
    fx_.machine.cpu(v.pcpu).set_timer_deadline(deadline);
  }
  PvFixture& fx_;
  double period_;
};

// Every table's references and state, to compare two runs.
struct TableState {
  uint32_t count, type_count;
  xen::PageType type;
  bool validated, pinned, partial;
  bool operator==(const TableState&) const = default;
};
std::vector<TableState> states(const PvFixture& fx, const Tree& t) {
  std::vector<TableState> out;
  for (const Pfn p : t.all()) {
    const xen::PageInfo& pg = fx.page(p);
    out.push_back({pg.count, pg.type_count, pg.type, pg.validated, pg.pinned, pg.partial});
  }
  return out;
}

constexpr unsigned kL2s = 4;
constexpr unsigned kL1s = 8;  // 38 tables in all

TEST(PartialValidationRules, PinOfALargeTreeIsPreemptedInsideTablesAndEndsAsAnUnpreemptedPin) {
  PvFixture still;
  const Tree a = build_tree(still, kL2s, kL1s);
  ASSERT_EQ(still.pin(4, a.l4), kOk);

  PvFixture fx;
  const Tree t = build_tree(fx, kL2s, kL1s);
  clock_on(fx, 10);
  const uint64_t ops_before = fx.count(Event::kXenMmuextOps);
  const uint64_t present_before = fx.count(Event::kXenValidateEntriesPresent);
  {
    EveryPeriod timer(fx, 100);  // an interrupt every 10 entries handled
    ASSERT_EQ(fx.pin(4, t.l4), kOk) << "the guest sees one successful pin";
    EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
    // In between, the L2s and the L3 and L4 above them were partial; an L1 never is.
    EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{2, 3, 4}));
    EXPECT_EQ(timer.continuations, fx.count(Event::kXenContinuation));
  }
  EXPECT_EQ(states(fx, t), states(still, a)) << "same references, same validated tables";
  for (const Event e : {Event::kXenValidateTables, Event::kXenValidateEntriesPresent,
                        Event::kXenValidateEntriesScanned, Event::kXenPin}) {
    EXPECT_EQ(fx.count(e), still.count(e)) << sim::kEventTable[static_cast<std::size_t>(e)].name;
  }
  EXPECT_EQ(fx.count(Event::kXenMmuextOps) - ops_before, 1u) << "the op counted once";
  // 38 tables, 4 + 8*4 + 32*4 = 164 present entries at 10 ns, a tick every 100 ns: the
  // preemptions fall between entries of the L2s (L1s are never preempted), each one a
  // continuation that issues the pin again.
  EXPECT_EQ(fx.count(Event::kXenValidateEntriesPresent) - present_before,
            1u + kL2s + kL2s * kL1s * 5);
  EXPECT_EQ(fx.count(Event::kXenPreempted), 16u);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 16u);
  EXPECT_EQ(fx.count(Event::kXenMmuextRequeued), 16u) << "the pin itself each time";
  EXPECT_EQ(still.count(Event::kXenPreempted), 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, UnpinOfALargeTreeIsPreemptedAndFinishedThroughOldGuestTable) {
  PvFixture still;
  const Tree a = build_tree(still, kL2s, kL1s);
  ASSERT_EQ(still.pin(4, a.l4), kOk);
  const auto pinned = states(still, a);
  ASSERT_EQ(still.unpin(a.l4), kOk);

  PvFixture fx;
  const Tree t = build_tree(fx, kL2s, kL1s);
  ASSERT_EQ(fx.pin(4, t.l4), kOk);
  ASSERT_EQ(states(fx, t), pinned);
  const uint64_t devalidated = fx.count(Event::kXenDevalidateTables);
  clock_on(fx, 10);
  {
    EveryPeriod timer(fx, 100);
    ASSERT_EQ(fx.unpin(t.l4), kOk);
    EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
    EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{2, 3, 4}));
    // The op succeeded at once; its put stayed pending on the L4 until the continuations
    // finished it.
    EXPECT_EQ(timer.pending_old_guest_table, (std::set<uint64_t>{fx.mfn(t.l4).value}));
  }
  EXPECT_EQ(states(fx, t), states(still, a)) << "every table devalidated, no reference left";
  EXPECT_EQ(fx.count(Event::kXenDevalidateTables) - devalidated, 38u);
  // The same 165 entries; a devalidation checks after every entry but an L2's or L3's entry 0
  // (the last it handles), so one tick falls where it cannot stop.
  EXPECT_EQ(fx.count(Event::kXenPreempted), 15u);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 15u);
  EXPECT_FALSE(fx.xen.domain(fx.si.domid).vcpus[0].old_guest_table);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, FailureAfterValidatedEntriesDefersTheTeardownToAContinuation) {
  // Refused: the L3's last entry names a frame still mapped writable (it cannot become an L2).
  // Three L2 subtrees are validated before it; their teardown is not inline but deferred: the
  // L3 goes to old_guest_table as partial and the continuation devalidates them.
  PvFixture fx;
  const Tree t = build_tree(fx, 3, 2);
  const Pfn bad = fx.alloc();  // mapped RW in the direct map
  ASSERT_EQ(fx.update(t.l3, 3, fx.pte(bad, kTableFlags & ~kRw)), kOk);
  const auto before = states(fx, t);
  clock_on(fx, 0);  // a clock that never reaches the timer: no preemption
  EveryPeriod timer(fx, 1e12);
  const uint64_t validated = fx.count(Event::kXenValidateTables);
  const uint64_t devalidated = fx.count(Event::kXenDevalidateTables);
  EXPECT_EQ(fx.pin(3, t.l3), kEINVAL);
  EXPECT_EQ(timer.pending_old_guest_table, (std::set<uint64_t>{fx.mfn(t.l3).value}));
  EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{3}));
  EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
  EXPECT_EQ(fx.count(Event::kXenContinuation), 1u) << "one continuation for the teardown";
  EXPECT_EQ(fx.count(Event::kXenValidateTables) - validated, 1u + 3 + 3 * 2);
  EXPECT_EQ(fx.count(Event::kXenDevalidateTables) - devalidated, 1u + 3 + 3 * 2)
      << "the L3 included";
  // References back to what they were; the tables keep their (sticky) types, unvalidated.
  const auto after = states(fx, t);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].count, before[i].count) << i;
    EXPECT_EQ(after[i].type_count, before[i].type_count) << i;
    EXPECT_FALSE(after[i].partial) << i;
  }
  EXPECT_EQ(fx.page(t.l3).type, xen::PageType::kL3);
  EXPECT_FALSE(fx.page(t.l3).validated);
  EXPECT_EQ(fx.page(t.l2[0]).type, xen::PageType::kL2);
  EXPECT_FALSE(fx.page(t.l2[0]).validated);
  EXPECT_FALSE(fx.xen.domain(fx.si.domid).vcpus[0].old_guest_table);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, NestedFailureHandsTheChildsReferenceToTheFailingEntry) {
  // L4 -> {L3a, L3b}; L3b's entry 1 is refused after its entry 0 validated an L2. L3b's
  // teardown is deferred, then the L4's (its entry 1 now holds L3b's general reference, a
  // partial child): one teardown of the whole tree through old_guest_table.
  PvFixture fx;
  const Tree t = build_tree(fx, 1, 2);  // L4[0] = L3a, with one L2 and two L1s
  const Pfn l3b = fx.make_table();
  const Pfn l2b = fx.make_table();
  const Pfn bad = fx.alloc();
  ASSERT_EQ(fx.update(t.l4, 1, fx.pte(l3b, kTableFlags & ~kRw)), kOk);
  ASSERT_EQ(fx.update(l3b, 0, fx.pte(l2b, kTableFlags & ~kRw)), kOk);
  ASSERT_EQ(fx.update(l3b, 1, fx.pte(bad, kTableFlags & ~kRw)), kOk);
  std::vector<Pfn> frames = t.all();
  frames.insert(frames.end(), {l3b, l2b, bad});
  std::vector<std::pair<uint32_t, uint32_t>> before;
  for (const Pfn p : frames) before.emplace_back(fx.page(p).count, fx.page(p).type_count);
  clock_on(fx, 0);
  EveryPeriod timer(fx, 1e12);
  EXPECT_EQ(fx.pin(4, t.l4), kEINVAL);
  EXPECT_EQ(timer.pending_old_guest_table, (std::set<uint64_t>{fx.mfn(t.l4).value}));
  EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{3, 4}));
  EXPECT_EQ(timer.audit_problems, std::vector<std::string>{}) << "partial child accounted";
  EXPECT_EQ(fx.count(Event::kXenContinuation), 1u);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(fx.page(frames[i]).count, before[i].first) << i;
    EXPECT_EQ(fx.page(frames[i]).type_count, before[i].second) << i;
    EXPECT_FALSE(fx.page(frames[i]).partial) << i;
  }
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, PinningAPinnedTableDropsItsReferencesThroughOldGuestTable) {
  // pin_drop: refused, and the refused pin's references go through a continuation; an L1's
  // go at once.
  PvFixture fx;
  const Pfn l2 = fx.make_table();
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(2, l2), kOk);
  ASSERT_EQ(fx.pin(1, l1), kOk);
  const uint32_t count = fx.page(l2).count;
  EXPECT_EQ(fx.pin(1, l1), kEINVAL);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 0u);
  EXPECT_EQ(fx.pin(2, l2), kEINVAL);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 1u);
  EXPECT_EQ(fx.page(l2).count, count);
  EXPECT_EQ(fx.page(l2).type_count, 1u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, FailureAtTheFirstEntryIsUndoneInline) {
  // The same refusal at entry 0: nothing was validated, nothing is deferred.
  PvFixture fx;
  const Pfn l3 = fx.make_table();
  const Pfn bad = fx.alloc();
  ASSERT_EQ(fx.update(l3, 0, fx.pte(bad, kTableFlags & ~kRw)), kOk);
  EXPECT_EQ(fx.pin(3, l3), kEINVAL);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 0u);
  EXPECT_EQ(fx.page(l3).type, xen::PageType::kNone) << "Xen clears the type";
  EXPECT_EQ(fx.page(l3).type_count, 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, ResumedTablesFailingAtTheirFirstEntryLeakTheMiddleReference) {
  // Found by the fuzzer. L4 -> L3 -> L2 -> three L1s, and the L2's entry 3 names a frame that
  // cannot become an L1. The pin is preempted inside the L2 (after its entry 1), which leaves
  // the L3 and the L4 partial at their entry 0, each holding a general reference on its child.
  // Resumed, the L2 fails past entry 0 and becomes old_guest_table, which takes over the L3's
  // reference on it; the L3 fails at entry 0, which Xen 4.17 tears down inline, and the L4
  // keeps the reference its partial entry held on the L3 (PTF_partial_set) and fails at entry
  // 0 too: no one holds that reference any more, and no one will drop it. The model does what
  // Xen does and records the leak (xen.ref_leaked), so the auditor can count it.
  PvFixture fx({.generation = xen::XenGeneration::kModern});
  const Tree t = build_tree(fx, 1, 3);
  const Pfn bad = fx.alloc();  // mapped RW in the direct map: cannot become an L1
  ASSERT_EQ(fx.update(t.l2[0], 3, fx.pte(bad, kTableFlags & ~kRw)), kOk);
  std::vector<Pfn> frames = t.all();
  frames.push_back(bad);
  std::vector<uint32_t> before;
  for (const Pfn p : frames) before.push_back(fx.page(p).count);
  clock_on(fx, 10);
  {
    EveryPeriod timer(fx, 100);
    EXPECT_EQ(fx.pin(4, t.l4), kEINVAL);
    EXPECT_GE(timer.continuations, 2u) << "the preemption and the L2's deferred teardown";
    EXPECT_TRUE(timer.partial_levels.count(4) && timer.partial_levels.count(3));
  }
  EXPECT_EQ(fx.count(Event::kXenRefLeaked), 1u);
  EXPECT_EQ(fx.page(t.l3).leaked_refs, 1u);
  EXPECT_EQ(fx.page(t.l3).count, before[1] + 1) << "the L4's entry's reference, held by no one";
  EXPECT_EQ(fx.page(t.l3).type, xen::PageType::kNone);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i] != t.l3) {
      EXPECT_EQ(fx.page(frames[i]).count, before[i]) << i;
    }
    EXPECT_FALSE(fx.page(frames[i]).partial) << i;
  }
  EXPECT_AUDIT_CLEAN(fx);
  // The leaked reference keeps the frame from ever being freed: destroying the domain leaves
  // it behind, still the domain's (Xen's zombie domain), and the rest goes back to the heap.
  const Mfn l3 = fx.mfn(t.l3);
  fx.xen.destroy_domain(fx.si.domid);
  const xen::PageInfo& left = fx.xen.frame_table()[l3];
  EXPECT_EQ(left.owner, fx.si.domid);
  EXPECT_EQ(left.count, 1u);
  EXPECT_FALSE(left.allocated);
  EXPECT_EQ(fx.xen.domain(fx.si.domid).pages.size(), 1u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, DeferredTeardownBelowAnInlineFailureIsLostAsInAReleaseBuild) {
  // Found by the fuzzer. An L4 whose entry 0 is a linear (self) mapping and entry 1 an L3,
  // whose entry 0 is an L2 failing past its entry 0. The L2 goes to old_guest_table; the L3
  // fails at its entry 0, inline; the L4 fails at entry 1 and defers its own teardown, though
  // old_guest_table is not its failing entry's child. Xen 4.17 asserts that cannot happen
  // (ASSERT_UNREACHABLE: a debug build stops here) and, in a release build, replaces
  // old_guest_table: the L2 stays partial for good, and the reference old_guest_table held on it
  // is leaked. Modern Xen only: before 4.12 an L2's failure was undone inline.
  PvFixture fx({.generation = xen::XenGeneration::kModern});
  const Pfn l4 = fx.make_table();
  const Pfn l3 = fx.make_table();
  const Pfn l2 = fx.make_table();
  const Pfn l1 = fx.make_table();
  const Pfn bad = fx.alloc();  // mapped RW: cannot become an L1
  const uint64_t ro = kTableFlags & ~kRw;
  ASSERT_EQ(fx.update(l4, 0, fx.pte(l4, ro)), kOk);
  ASSERT_EQ(fx.update(l4, 1, fx.pte(l3, ro)), kOk);
  ASSERT_EQ(fx.update(l3, 0, fx.pte(l2, ro)), kOk);
  ASSERT_EQ(fx.update(l2, 0, fx.pte(l1, ro)), kOk);
  ASSERT_EQ(fx.update(l2, 1, fx.pte(bad, ro)), kOk);
  const uint32_t l2_count = fx.page(l2).count;
  EXPECT_EQ(fx.pin(4, l4), kEINVAL);
  EXPECT_EQ(fx.count(Event::kXenRefLeaked), 1u);
  EXPECT_TRUE(fx.page(l2).partial) << "orphaned";
  EXPECT_EQ(fx.page(l2).leaked_refs, 1u);
  EXPECT_EQ(fx.page(l2).count, l2_count + 2) << "its partial state's and the lost holder's";
  EXPECT_TRUE(fx.page(l1).validated) << "the L2's validated entry still holds it";
  EXPECT_EQ(fx.page(l3).type, xen::PageType::kNone);
  EXPECT_FALSE(fx.xen.domain(fx.si.domid).vcpus[0].old_guest_table);
  EXPECT_AUDIT_CLEAN(fx);
  // Destroying the domain devalidates the orphan by force (relinquish_memory), which releases
  // its L1; the leaked reference keeps the L2 itself from ever being freed.
  const Mfn l2_mfn = fx.mfn(l2);
  const Mfn l1_mfn = fx.mfn(l1);
  fx.xen.destroy_domain(fx.si.domid);
  const xen::FrameTable& ft = fx.xen.frame_table();
  EXPECT_FALSE(ft[l2_mfn].partial);
  EXPECT_EQ(ft[l2_mfn].count, 1u);
  EXPECT_EQ(ft[l2_mfn].owner, fx.si.domid);
  EXPECT_EQ(ft[l1_mfn].owner, xen::kNoOwner) << "freed";
  EXPECT_EQ(fx.xen.domain(fx.si.domid).pages.size(), 1u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, AFailingPartialEntryPastZeroKeepsItsReferenceForTheTeardown) {
  // promote_lN_table: a table failing past entry 0 at its resumed partial entry keeps
  // PTF_partial_set there (partial_flags carries it), so its teardown drops the general
  // reference that entry held, even though the child did not defer its own failure. Paper-era
  // (an L2's failure inline): L4 -> {L3a, L3b}, L3b -> an L2 preempted past its entry 0 that
  // then fails: L3b fails at its partial entry 0 (it leaks its reference on the L2, as above),
  // and the L4 at its partial entry 1, whose reference on L3b goes back with the teardown.
  PvFixture fx;
  const Tree t = build_tree(fx, 1, 1);  // L4[0] = L3a
  const Pfn l3b = fx.make_table();
  const Pfn l2b = fx.make_table();
  const uint64_t ro = kTableFlags & ~kRw;
  ASSERT_EQ(fx.update(t.l4, 1, fx.pte(l3b, ro)), kOk);
  ASSERT_EQ(fx.update(l3b, 0, fx.pte(l2b, ro)), kOk);
  std::vector<Pfn> l1s;
  for (int i = 0; i < 3; ++i) {
    l1s.push_back(fx.make_table());
    ASSERT_EQ(fx.update(l2b, static_cast<uint64_t>(i), fx.pte(l1s.back(), ro)), kOk);
    for (uint64_t k = 0; k < 4; ++k) {
      ASSERT_EQ(fx.update(l1s.back(), k, fx.pte(t.data, kDataRo)), kOk);
    }
  }
  const Pfn bad = fx.alloc();
  ASSERT_EQ(fx.update(l2b, 3, fx.pte(bad, ro)), kOk);
  const uint32_t l3b_count = fx.page(l3b).count;
  clock_on(fx, 10);
  {
    // The L4's first subtree (L3a, one L2, one L1 of 4 entries) and l2b's first two entries
    // take 150 ns: preempted inside l2b, with the L4 partial at entry 1 and l3b at entry 0.
    EveryPeriod timer(fx, 130);
    EXPECT_EQ(fx.pin(4, t.l4), kEINVAL);
    EXPECT_TRUE(timer.partial_levels.count(4) && timer.partial_levels.count(3));
  }
  EXPECT_EQ(fx.count(Event::kXenRefLeaked), 1u) << "l3b's on the L2, not the L4's on l3b";
  EXPECT_EQ(fx.page(l3b).count, l3b_count);
  EXPECT_EQ(fx.page(l3b).leaked_refs, 0u);
  EXPECT_EQ(fx.page(l2b).leaked_refs, 1u);
  EXPECT_FALSE(fx.xen.domain(fx.si.domid).vcpus[0].old_guest_table);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, L2FailurePastEntryZeroIsDeferredSince412AndUndoneInlineBefore) {
  // promote_l2_table: 4.12 and later hand a failure past entry 0 to old_guest_table (a
  // continuation tears the L2 down, and its type stays); up to 4.11 it undid its entries
  // inline and the type was cleared.
  for (const auto g : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = g});
    const Pfn l1 = fx.make_table();
    const Pfn l2 = fx.make_table();
    const Pfn bad = fx.alloc();  // mapped RW: cannot become an L1
    ASSERT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags & ~kRw)), kOk);
    ASSERT_EQ(fx.update(l2, 1, fx.pte(bad, kTableFlags & ~kRw)), kOk);
    const uint32_t l1_count = fx.page(l1).count;
    clock_on(fx, 0);
    EveryPeriod timer(fx, 1e12);
    EXPECT_EQ(fx.pin(2, l2), kEINVAL);
    const bool modern = g == xen::XenGeneration::kModern;
    EXPECT_EQ(fx.count(Event::kXenContinuation), modern ? 1u : 0u);
    EXPECT_EQ(timer.pending_old_guest_table.size(), modern ? 1u : 0u);
    EXPECT_EQ(fx.page(l2).type, modern ? xen::PageType::kL2 : xen::PageType::kNone);
    EXPECT_EQ(fx.page(l1).count, l1_count) << "the L1's reference back either way";
    EXPECT_EQ(fx.page(l2).type_count, 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(PartialValidationRules, L3EntryUpdateValidatesItsNewL2PreemptiblyAndIsIssuedAgain) {
  // mod_l3_entry: the new L2's validation stops part-way; the request is issued again by the
  // continuation, which takes the partial L2 over.
  PvFixture fx;
  const Tree t = build_tree(fx, 1, 1);
  ASSERT_EQ(fx.pin(4, t.l4), kOk);
  const Pfn l2 = fx.make_table();
  std::vector<Pfn> l1s;
  for (uint64_t j = 0; j < 16; ++j) {
    l1s.push_back(fx.make_table());
    ASSERT_EQ(fx.update(l2, j, fx.pte(l1s.back(), kTableFlags & ~kRw)), kOk);
  }
  clock_on(fx, 10);
  const uint64_t requests = fx.count(Event::kXenMmuUpdateRequests);
  {
    EveryPeriod timer(fx, 45);
    ASSERT_EQ(fx.update(t.l3, 1, fx.pte(l2, kTableFlags & ~kRw)), kOk);
    EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{2}));
    EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
  }
  EXPECT_EQ(fx.count(Event::kXenMmuUpdateRequests) - requests, 1u) << "counted once";
  EXPECT_EQ(fx.count(Event::kXenPreempted), 3u) << "16 entries, a tick every 4.5 of them";
  EXPECT_EQ(fx.count(Event::kXenMmuUpdateRequeued), 3u);
  EXPECT_TRUE(fx.page(l2).validated);
  EXPECT_EQ(fx.page(l2).type_count, 1u);
  EXPECT_EQ(fx.page(l2).count, 3u) << "allocation, read-only alias, the L3 entry";
  for (const Pfn l1 : l1s) EXPECT_TRUE(fx.page(l1).validated);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, NewBaseptrOfAnUnvalidatedTreeIsPreemptedAndIssuedAgain) {
  PvFixture fx;
  const Tree t = build_tree(fx, kL2s, kL1s);
  const Mfn old_base = fx.xen.domain(fx.si.domid).vcpus[0].guest_table;
  const uint32_t old_count = fx.xen.frame_table()[old_base].type_count;
  const uint64_t installs = fx.count(Event::kXenNewBaseptr);
  clock_on(fx, 10);
  {
    EveryPeriod timer(fx, 100);
    ASSERT_EQ(fx.mmuext(abi::kMmuextNewBaseptr, fx.mfn(t.l4).value), kOk);
    EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{2, 3, 4}));
    EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
  }
  EXPECT_EQ(fx.xen.domain(fx.si.domid).vcpus[0].guest_table, fx.mfn(t.l4));
  EXPECT_EQ(fx.page(t.l4).type_count, 1u) << "the base pointer's reference only";
  EXPECT_TRUE(fx.page(t.l4).validated);
  EXPECT_EQ(fx.xen.frame_table()[old_base].type_count, old_count - 1);
  EXPECT_EQ(fx.count(Event::kXenNewBaseptr) - installs, 1u) << "installed once";
  EXPECT_EQ(fx.count(Event::kXenPreempted), 16u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, PinInsideAMulticallIsRewrittenAndEachContinuationRunsSoftirqs) {
  PvFixture fx;
  const Tree t = build_tree(fx, kL2s, kL1s);
  clock_on(fx, 10);
  std::vector<abi::MulticallEntry> batch(1);
  batch[0].op = abi::HypercallNr::kMmuextOp;
  batch[0].mmuext_ops = {abi::MmuextOp{.cmd = abi::kMmuextPinL4Table, .arg1 = fx.mfn(t.l4).value}};
  const uint64_t calls = fx.count(Event::kXenHcMulticall);
  {
    EveryPeriod timer(fx, 100);
    ASSERT_EQ(fx.xen.multicall(0, batch), kOk);
  }
  EXPECT_EQ(batch[0].result, kOk);
  EXPECT_TRUE(fx.page(t.l4).pinned);
  EXPECT_EQ(fx.count(Event::kXenPreempted), 16u);
  EXPECT_EQ(fx.count(Event::kXenHcMulticall) - calls, 17u) << "re-entered per preemption";
  EXPECT_EQ(fx.count(Event::kXenMcSubMmuextOp), 17u) << "the sub-call issued again each time";
  EXPECT_EQ(fx.count(Event::kXenTimerInterrupts), 16u) << "taken on the way back each time";
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 1u << abi::kVirqTimer);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, PartialTablesAreNeverDmaWritable) {
  PvFixture fx({.generation = xen::XenGeneration::kModern,
                .iommu = xen::IommuMode::kSync,
                .dma_device = true});
  const Tree t = build_tree(fx, kL2s, kL1s);
  clock_on(fx, 10);
  xen::DmaAdversary adversary({.mode = xen::DmaAdversaryMode::kAudit});
  {
    EveryPeriod timer(fx, 100);
    adversary.chain(&timer);
    fx.xen.set_interleaving_observer(&adversary);
    ASSERT_EQ(fx.pin(4, t.l4), kOk);
    ASSERT_EQ(fx.unpin(t.l4), kOk);
    EXPECT_EQ(timer.partial_levels, (std::set<unsigned>{2, 3, 4}));
    EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
  }
  EXPECT_GT(fx.count(Event::kXenPreempted), 0u);
  EXPECT_GT(adversary.points(), 0u);
  EXPECT_EQ(adversary.violations(), 0u) << adversary.summary();
  EXPECT_AUDIT_CLEAN(fx);
}

// At the reentrant point after the preempted unpin, vCPU 1 pins the half-devalidated L4 again.
class PinOnVcpu1 : public xen::InterleavingObserver {
 public:
  PinOnVcpu1(PvFixture& fx, Pfn l4, xen::InterleavingObserver& next)
      : fx_(fx), l4_(l4), next_(next) {}
  void at(xen::Hypervisor& xen, const xen::InterleavingPoint& p) override {
    if (p.step == xen::Step::kBetweenOps && p.reentrant && !done_ && fx_.page(l4_).partial) {
      done_ = true;
      was_partial = true;
      rc = fx_.mmuext(abi::kMmuextPinL4Table, fx_.mfn(l4_).value, 0, 1);
    }
    next_.at(xen, p);
  }
  bool was_partial = false;
  int64_t rc = 1;

 private:
  PvFixture& fx_;
  Pfn l4_;
  xen::InterleavingObserver& next_;
  bool done_ = false;
};

TEST(PartialValidationRules, AnotherAcquisitionTakesAPartialTableOver) {
  // vCPU 0's unpin stops part-way (the L4 partial, its put pending); vCPU 1's pin of the same
  // L4 takes the state over and validates it again from where the devalidation stopped; vCPU
  // 0's pending put then finds nothing of the partial state left to drop.
  PvFixture fx({.cpus = 2, .vcpus = 2});
  const Tree t = build_tree(fx, kL2s, kL1s);
  ASSERT_EQ(fx.pin(4, t.l4), kOk);
  const auto pinned = states(fx, t);
  clock_on(fx, 10);
  EveryPeriod timer(fx, 100);
  PinOnVcpu1 vcpu1(fx, t.l4, timer);
  fx.xen.set_interleaving_observer(&vcpu1);
  ASSERT_EQ(fx.unpin(t.l4), kOk);
  ASSERT_TRUE(vcpu1.was_partial) << "the unpin must stop part-way for this test";
  EXPECT_EQ(vcpu1.rc, kOk);
  EXPECT_EQ(timer.audit_problems, std::vector<std::string>{});
  EXPECT_EQ(states(fx, t), pinned) << "pinned again, every table validated once more";
  EXPECT_FALSE(fx.xen.domain(fx.si.domid).vcpus[0].old_guest_table);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PartialValidationRules, WithoutAClockNothingIsEverPartial) {
  PvFixture fx;
  const Tree t = build_tree(fx, kL2s, kL1s);
  ASSERT_EQ(fx.pin(4, t.l4), kOk);
  ASSERT_EQ(fx.unpin(t.l4), kOk);
  EXPECT_EQ(fx.count(Event::kXenPreempted), 0u);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
