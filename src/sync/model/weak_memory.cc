// src/sync/model/weak_memory.cc — the `weak` memory model's histories and
// views (see weak_memory.h for the rules).
#include "sync/model/weak_memory.h"

#include <algorithm>
#include <fmt/format.h>

namespace faultline::sync::model::weak {

namespace {
constexpr int kAcquire = 2, kAcqRel = 4;
bool acquires(int order) { return order == 1 || order == kAcquire || order == kAcqRel; }
}  // namespace

void Clock::join(const Clock& o) {
  for (int i = 0; i < kMaxCpus; ++i) c[i] = std::max(c[i], o.c[i]);
}

bool Clock::covers(const Clock& o) const {
  for (int i = 0; i < kMaxCpus; ++i)
    if (c[i] < o.c[i]) return false;
  return true;
}

Cpu& Memory::cpu(int id) {
  if (id < 0 || id >= kMaxCpus) fail(fmt::format("the weak memory model runs at most {} CPUs", kMaxCpus));
  return cpus_[static_cast<size_t>(id)];
}

History& Memory::history(Word* w) {
  if (History* h = find(w)) return *h;
  History& h = store_.emplace_back();
  h.mo.push_back({w->v, -1, 0, 0, false, false, {}, 0});
  w->hist = &h;
  w->serial = serial_;
  return h;
}

size_t Memory::oldest_readable(const History& h, int cpu, const Clock* also) const {
  const Clock& clock = cpus_[static_cast<size_t>(cpu)].clock;
  size_t floor = h.seen[static_cast<size_t>(cpu)];
  for (size_t p = h.mo.size() - 1; p > floor; --p) {
    const Msg& m = h.mo[p];
    if (visible_to_all(m) || clock.knows(m.writer, m.stamp) || (also && also->knows(m.writer, m.stamp))) return p;
  }
  return floor;
}

size_t Memory::readable(const Word* w, int cpu, const Clock* also) const {
  const History* h = find(w);
  if (!h) return 1;
  return h->mo.size() - oldest_readable(*h, cpu, also);
}

std::vector<size_t> Memory::places(const Word* w, int cpu, bool after_reads, const Clock* also) const {
  std::vector<size_t> v{0};
  const History* h = find(w);
  if (!h) return v;
  const Cpu& me = cpus_[static_cast<size_t>(cpu)];
  Clock bound = me.ordered_fenced;
  if (also) bound.join(*also);
  if (after_reads) {
    bound.join(me.read_fenced);
    bound.join(me.read_strong);
  }
  size_t n = h->mo.size() - oldest_readable(*h, cpu, &bound);
  for (size_t k = 1; k < n; ++k)
    if (!h->mo[h->mo.size() - k].rmw) v.push_back(k);
  return v;
}

Clock Memory::learnt(const Msg& m, int c) const {
  Clock l = fenced_from(m);
  l.join(m.strong);
  if (m.writer == c) l.join(m.after_reads);  // dep ; rfi
  return l;
}

uint64_t Memory::value(const Word* w, size_t newer) const {
  const History* h = find(w);
  return h ? h->mo[h->mo.size() - 1 - newer].v : w->v;
}

uint64_t Memory::read(Word* w, int c, size_t newer, int order, Msg* read_out, uint64_t* taint, ReadKind kind) {
  History* h = find(w);
  if (taint) *taint = 0;
  race_access(w, c, false);
  if (!h) {
    if (read_out) *read_out = Msg{w->v, -1, 0, 0, false, false, {}, 0};
    return w->v;
  }
  size_t pos = h->mo.size() - 1 - newer;
  Cpu& me = cpu(c);
  const Msg& m = h->mo[pos];
  h->seen[static_cast<size_t>(c)] = static_cast<uint32_t>(pos);
  Clock fenced = learn(me, c, m, kind != ReadKind::rmw_noreturn);
  if (acquires(order)) {
    me.clock.join(fenced);
    me.clock.join(m.strong);
    me.strong.join(m.strong);
    me.ordered_fenced.join(fenced);
    // An acquire RMW that reads a release write takes a lock another CPU
    // released: po-unlock-lock-po orders that CPU's writes before the
    // unlock before this one's after the lock (cumul-fence).
    if (kind != ReadKind::load && m.release && m.writer != c) me.carried_fenced.join(fenced);
  }
  race_learn(me, m, acquires(order));
  if (read_out) *read_out = m;
  if (taint) *taint = m.taint;
  return m.v;
}

// ---- data races (RaceClocks) ----

bool Memory::race_access(const Word* w, int c, bool write) {
  bool plain = plain_next_, dependent = address_next_;
  plain_next_ = address_next_ = false;
  if (!track_races_) return plain;
  Cpu& me = cpu(c);
  ++me.race.acc;
  if (dependent) me.race.hb.join(me.race.learnt);
  auto& seen = accesses_[w];
  for (const Access& a : seen)
    if (a.cpu != c && (a.write || write) && (a.plain || plain) && !me.race.hb.knows(a.cpu, a.at)) raced_ = true;
  seen.push_back({c, me.race.acc, write, plain});
  return plain;
}

void Memory::race_learn(Cpu& me, const Msg& m, bool acquire) {
  if (!track_races_) return;
  me.race.learnt.join(m.race_pub);
  if (m.race_at) me.race.learnt.add(m.writer, m.race_at);
  if (acquire) me.race.hb.join(me.race.learnt);
}

void Memory::race_publish(Cpu& me, int c, Msg& m, bool plain, bool release, const Msg* rmw_of) {
  if (!track_races_ || plain) return;
  m.race_at = me.race.acc;
  m.race_pub = me.race.pub;
  if (release) {  // A-cumulative: the writes its CPU read come before it too
    m.race_pub.join(me.race.hb);
    m.race_pub.join(me.race.learnt);
    m.race_pub.add(c, me.race.acc - 1);
  }
  if (rmw_of) m.race_pub.join(rmw_of->race_pub);  // an rmw-sequence carries on
}

void Memory::before_rmw(int c, int order) {
  Cpu& me = cpu(c);
  if (acquires(order) && me.released > me.ordered) {  // spin_unlock(); spin_lock(): po-unlock-lock-po
    me.clock.join(me.read_fenced);
    me.clock.join(me.read_strong);
    me.strong.join(me.read_strong);
    me.ordered_fenced.join(me.read_fenced);
    me.carried_fenced.join(me.own_fenced);
    me.carried_fenced.add(c, me.released);
    me.ordered = me.released;
  }
}

size_t Memory::write(Word* w, int c, uint64_t v, size_t before, const WriteKind& k) {
  History& h = history(w);
  Cpu& me = cpu(c);
  bool plain = race_access(w, c, true);
  uint32_t stamp = ++me.own;
  Msg m{v, c, stamp, ++time_, k.late, k.rmw_of != nullptr, me.clock, k.taint};
  any_late_ = any_late_ || k.late;
  me.holding = me.holding || k.late;
  m.view.join(me.pending);
  m.view.add(c, k.release ? stamp : me.ordered);
  if (k.release) me.released = stamp;
  m.release = k.release;
  if (k.rmw_of) m.view.join(k.rmw_of->view);
  // cumul-fence: what its CPU's fences put before it; a release is
  // A-cumulative (po-rel, with the writes its CPU read before it).
  m.fenced = me.carried_fenced;
  // An RMW continues the rmw-sequence of the write it read: what that
  // write was fenced after, this one is too.
  if (k.rmw_of) m.fenced.join(k.rmw_of->fenced);
  if (k.release) {
    m.fenced.join(me.read_fenced);
    m.fenced.join(me.own_fenced);
    m.fenced.add(c, stamp - 1);
  }
  me.own_fenced.join(m.fenced);
  m.strong = me.strong;
  if (k.after_reads) m.strong.join(me.read_strong);
  m.data_dep = k.data_after_reads;
  if (k.data_after_reads) {
    m.after_reads = me.read_fenced;
    m.after_reads.join(me.read_strong);
  }
  race_publish(me, c, m, plain, k.release, k.rmw_of);
  size_t pos = h.mo.size() - before;
  h.mo.insert(h.mo.begin() + static_cast<long>(pos), m);
  for (auto& s : h.seen)
    if (s >= pos && pos < h.mo.size() - 1) ++s;
  h.seen[static_cast<size_t>(c)] = static_cast<uint32_t>(pos);
  w->v = h.mo.back().v;
  size_t forgotten = forget_hidden(h);
  return pos >= forgotten ? pos - forgotten : 0;
}

// The write itself joins what a reader passes on only when its writer's
// earlier writes were all in `base`: a view holds a prefix of each CPU's
// writes, and a longer one would bind too much.
Clock Memory::with_write(const Clock& base, const Msg& m) {
  Clock c = base;
  if (m.writer >= 0 && base.c[static_cast<size_t>(m.writer)] + 1 >= m.stamp) c.add(m.writer, m.stamp);
  return c;
}

void Memory::bind(const Word* w, int c, size_t pos, const std::vector<std::pair<const Word*, uint64_t>>& dependents) {
  History* h = find(w);
  if (!h || pos >= h->mo.size()) return;
  auto& seen = h->seen[static_cast<size_t>(c)];
  seen = std::max<uint32_t>(seen, static_cast<uint32_t>(pos));
  const Msg& kept = h->mo[pos];
  learn(cpu(c), c, kept, true);
  Clock carried = fenced_from(kept);
  carried.join(kept.strong);
  for (const auto& [dw, time] : dependents)
    if (History* dh = find(dw))
      for (Msg& m : dh->mo)
        if (m.time == time && m.writer == c && m.data_dep) m.after_reads.join(carried);
}

// What reading `m` tells CPU `c` (`me`), for its later ordering points;
// `rmb`: smp_rmb() orders the read. Returns what the write was fenced
// after, with what its own CPU's loads it depended on learnt (dep ; rfi).
Clock Memory::learn(Cpu& me, int c, const Msg& m, bool rmb) {
  Clock fenced = fenced_from(m);
  if (m.writer == c) fenced.join(m.after_reads);
  me.pending.join(learnt_from(m));
  me.read_fenced.join(fenced);
  me.read_strong.join(m.strong);
  if (rmb) {
    me.rmb_fenced.join(fenced);
    me.rmb_strong.join(m.strong);
  }
  return fenced;
}

bool Memory::precedes_fenced(const std::vector<std::pair<const Word*, uint64_t>>& stores, const Word* w,
                             size_t pos) const {
  const History* h = find(w);
  if (!h || pos >= h->mo.size() || stores.empty()) return false;
  Clock fenced = fenced_from(h->mo[pos]);
  for (const auto& [sw, time] : stores) {
    const History* sh = find(sw);
    if (!sh) continue;
    // A store no longer in the history precedes everything in it.
    size_t from = 0;
    for (size_t i = 0; i < sh->mo.size(); ++i)
      if (sh->mo[i].time == time) from = i + 1;
    for (size_t i = from; i < sh->mo.size(); ++i)
      if (fenced.knows(sh->mo[i].writer, sh->mo[i].stamp)) return true;
  }
  return false;
}

uint64_t Memory::floor_time(const Word* w, int c) const {
  const History* h = find(w);
  return h ? h->mo[oldest_readable(*h, c)].time : 0;
}

uint64_t Memory::time_at(const Word* w, size_t pos) const {
  const History* h = find(w);
  return h && pos < h->mo.size() ? h->mo[pos].time : 0;
}

// A write no longer in the history was older than everything in it.
bool Memory::fits_between(const Word* w, size_t pos, uint64_t floor, uint64_t before) const {
  const History* h = find(w);
  if (!h) return true;
  for (size_t i = pos + 1; i < h->mo.size(); ++i)
    if (floor != 0 && h->mo[i].time == floor) return false;  // the reader was bound to a later write
  if (before == 0) return true;
  for (size_t i = pos + 1; i < h->mo.size(); ++i)
    if (h->mo[i].time == before) return true;  // the reader's own later write comes after it
  return false;
}

// Writes older than the newest one every CPU is bound to can never be read
// again: drop them, keeping histories as short as the reordering in play.
size_t Memory::forget_hidden(History& h) {
  size_t p = h.mo.size() - 1;
  while (p > 0 && !visible_to_all(h.mo[p])) --p;
  if (p == 0) return 0;
  h.mo.erase(h.mo.begin(), h.mo.begin() + static_cast<long>(p));
  for (auto& s : h.seen) s = s > p ? static_cast<uint32_t>(s - p) : 0;
  return p;
}

Clock Memory::everything(int c) {
  Cpu& me = cpu(c);
  Clock all = me.clock;
  all.join(me.pending);
  all.add(c, me.own);
  return all;
}

// What reaches `me` (CPU `c`, or its state earlier) through prop: what it
// is bound to, the writes it read and what they were fenced after, and its
// own writes and theirs.
Clock Memory::propagated_to(int c, const Cpu& me) {
  Clock all = me.clock;
  all.join(me.read_fenced);
  all.join(me.own_fenced);
  all.add(c, me.own);
  return all;
}

bool Memory::full_barrier(int c, const Cpu* as_of) {
  Cpu& me = cpu(c);
  const Cpu& then = as_of ? *as_of : me;
  Clock published = propagated_to(c, then);
  bool news = !sc_.covers(published);
  sc_.join(published);
  me.clock.join(sc_);
  me.strong.join(sc_);
  me.ordered = std::max(me.ordered, then.own);
  me.holding = false;
  // A strong fence is A-cumulative: what the CPU wrote and read comes
  // before its later writes, and its earlier loads before its later stores.
  me.ordered_fenced.join(then.read_fenced);
  me.carried_fenced.join(then.read_fenced);
  me.carried_fenced.join(then.own_fenced);
  me.carried_fenced.add(c, then.own);
  if (track_races_) {  // binds what it learnt, publishes all before it
    me.race.hb.join(me.race.learnt);
    me.race.pub = race_everything(c);
  }
  return news;
}

void Memory::read_barrier(int c) {
  Cpu& me = cpu(c);
  me.clock.join(me.rmb_fenced);
  me.clock.join(me.rmb_strong);
  me.strong.join(me.rmb_strong);
  if (track_races_) me.race.hb.join(me.race.learnt);
}

void Memory::write_barrier(int c) {
  Cpu& me = cpu(c);
  me.ordered = me.own;
  me.carried_fenced.join(me.own_fenced);  // not A-cumulative: only its own writes
  me.carried_fenced.add(c, me.own);
  if (track_races_) me.race.pub.add(c, me.race.acc);  // its own accesses (reads too: coarser than the LKMM's)
}

void Memory::rcu_read_lock(int c, const void* domain) {
  cpu(c).clock.join(rcu_[domain]);
  if (track_races_) cpu(c).race.hb.join(race_rcu_[domain]);
}

Clock Memory::rcu_read_unlock(int c) {
  if (track_races_) race_unlocked_[static_cast<size_t>(c)] = race_everything(c);
  return everything(c);
}

bool Memory::grace_period_start(int c, const void* domain) {
  bool news = full_barrier(c);
  rcu_[domain].join(everything(c));
  if (track_races_) race_rcu_[domain].join(race_everything(c));
  return news;
}

// Data races: every section that ended by now comes before (coarser than
// RCU's guarantee, which covers the sections that began before the start).
bool Memory::grace_period_end(int c, const std::vector<Clock>& exits) {
  for (const Clock& e : exits) cpu(c).clock.join(e);
  if (track_races_)
    for (const Clock& e : race_unlocked_) cpu(c).race.hb.join(e);
  return full_barrier(c);
}

void Memory::spawned(int parent, int child) {
  cpu(child).clock = everything(parent);
  if (track_races_) cpu(child).race.hb = race_everything(parent);
}

void Memory::joined(int joiner, int child) {
  cpu(joiner).clock.join(everything(child));
  if (track_races_) cpu(joiner).race.hb.join(race_everything(child));
}

Clock Memory::race_everything(int c) {
  Clock all = cpu(c).race.hb;
  all.add(c, cpu(c).race.acc);
  return all;
}

void Memory::write_outside(Word* w, uint64_t v) {
  if (History* h = find(w)) {
    h->mo.push_back({v, -1, 0, ++time_, false, false, {}, 0});
    forget_hidden(*h);
  }
  w->v = v;
}

bool Memory::propagate_all() {
  if (!any_late_) return false;
  propagated_ = time_;
  any_late_ = false;
  for (Cpu& c : cpus_) c.holding = false;
  return true;
}

}  // namespace faultline::sync::model::weak
