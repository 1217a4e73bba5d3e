// tests/relacy/no_new_maps_relacy.cc — the no_new_maps barrier pattern in
// Relacy (Debian's relacy-dev), an independent checker of the C++ memory
// model, for the cross-check in relacy_test.cc.
//
// In C++ terms: the killer clears uptodate (clear_bit: a relaxed RMW), then
// a barrier, then reads the map count; the fault bumps the map count (a
// relaxed RMW), a full barrier, then reads uptodate. The bad outcome: the
// killer sees the folio unmapped and the fault sees it uptodate (both go
// ahead). With smp_mb() on the killer's side it is forbidden; with the
// seed's smp_mb__before_atomic() before a plain read there is no barrier
// that orders anything (the primitive orders only against a following RMW),
// and it is allowed.
#include <relacy/relacy.hpp>

#include <iostream>

namespace {

template <bool AsPosted>
struct NoNewMaps : rl::test_suite<NoNewMaps<AsPosted>, 2> {
  rl::atomic<int> uptodate;
  rl::atomic<int> mapcount;
  int killer_saw_mapped = -1;
  int fault_saw_uptodate = -1;

  void before() {
    uptodate(RL_INFO).store(1, rl::mo_relaxed);
    mapcount(RL_INFO).store(0, rl::mo_relaxed);
  }
  void thread(unsigned cpu) {
    if (cpu == 0) {  // the killer: page_kill_mappings
      uptodate(RL_INFO).fetch_and(0, rl::mo_relaxed);
      if (!AsPosted) rl::atomic_thread_fence(rl::mo_seq_cst, RL_INFO);
      killer_saw_mapped = mapcount(RL_INFO).load(rl::mo_relaxed);
    } else {  // the fault: map count up, smp_mb(), re-check uptodate
      mapcount(RL_INFO).fetch_add(1, rl::mo_relaxed);
      rl::atomic_thread_fence(rl::mo_seq_cst, RL_INFO);
      fault_saw_uptodate = uptodate(RL_INFO).load(rl::mo_relaxed);
    }
  }
  void after() { RL_ASSERT(!(killer_saw_mapped == 0 && fault_saw_uptodate == 1)); }
};

template <class Test>
bool relacy_passes() {
  rl::test_params p;
  p.iteration_count = 200000;
  p.output_stream = &std::cout;  // Relacy prints its counterexample here
  return rl::simulate<Test>(p);
}

}  // namespace

// True if Relacy finds the bad outcome.
bool relacy_finds_bug(bool as_posted) {
  return as_posted ? !relacy_passes<NoNewMaps<true>>() : !relacy_passes<NoNewMaps<false>>();
}
