// The live loop: packets from a divert backend through the engine and back, woken by epoll on
// the backend, a timerfd for the wheel's next departure, a periodic stats timer, a signalfd
// and the wake-up calibrator. run() returns whenever the caller has something to do (stop,
// reload, stats).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

#include "core/clock.hh"
#include "core/latency_histogram.hh"
#include "core/packet_pool.hh"
#include "divert/arrival_estimator.hh"
#include "divert/divert.hh"
#include "divert/priority_governor.hh"
#include "engine/engine.hh"
#include "sys/epoll.hh"
#include "sys/signal_fd.hh"
#include "sys/timer_fd.hh"
#include "sys/wake_calibrator.hh"

namespace badlink {

struct LiveOptions {
  // The wheel's timer fires this much before a departure; the rest is a clock_gettime spin, so
  // packets leave within microseconds of their time despite timer wake-up latency. This is the
  // start: the loop then follows how late its timer really fires (the 99th percentile of the
  // last kTimerWindow wake-ups, plus a margin), within [min_early_wake, max_early_wake], so
  // a host with prompt timers spins little and a slow one (a nested VM) spins enough.
  Duration early_wake = std::chrono::microseconds(50);
  Duration min_early_wake = std::chrono::microseconds(5);
  Duration max_early_wake = std::chrono::microseconds(100);
  // After a wake-up that read a burst, the queue is polled this long for more before the loop
  // sleeps again (0: never). A wait in real time: a ManualClock cannot give one.
  Duration burst_linger = std::chrono::microseconds(20);
  // Spinning (before departures, and lingering) takes at most this share of the loop's wall
  // time, with bursts of up to spin_burst (a token bucket); past it, the timer is armed for a
  // departure itself and the loop sleeps until then, late by the timer's own lateness. The
  // loop asks for a high weight (nice -20): spinning through departures closer together than
  // the lead, it would otherwise keep the CPU from every task that shares it -- the receiving
  // application among them -- for as long as they last. 1: no limit.
  double max_spin_share = 0.5;
  Duration spin_burst = std::chrono::milliseconds(2);
  // How often (on average) a helper thread measures this machine's wake-up time, which is
  // taken off the arrival of packets without a kernel stamp (ArrivalEstimator); 0: never.
  // Needs the loop's clock to be the real CLOCK_MONOTONIC.
  Duration wake_calibration = std::chrono::milliseconds(20);
  // The longest sleep that may leave a queue unwatched (see set_arrival_slack): what arrives
  // meanwhile waits unread in the socket, so this bounds that backlog (at 10 Gbit/s, 2 ms is
  // 2.5 MB of the socket's 32). Longer sleeps watch every queue.
  Duration max_unwatched_wait = std::chrono::milliseconds(2);
  // See set_arrival_slack's `read_while_spinning`: such reads start only while at least this
  // much remains before the departure (a read of one packet took ~2 us, of six ~7, traced).
  Duration spin_read_margin = std::chrono::microseconds(10);
  Duration stats_interval = std::chrono::seconds(10);  // 0: no periodic stats event
  // The loop's scheduling weight as PriorityGovernor decides it from what the loop reads:
  // `apply_nice` sets the calling thread's nice value (false: it could not, logged by it; the
  // governor then stops). Unset: the weight is left as it is.
  std::optional<PriorityPolicy> priority;
  std::function<bool(int nice)> apply_nice;
  std::FILE* dump = nullptr;  // one line per diverted packet goes here when set
};

struct LiveEvent {
  enum class Kind { stop, reload, write_stats, stats_tick, source };
  Kind kind = Kind::stop;
  int signal = 0;   // the signal behind it, 0 for the stats timer
  size_t source = 0;  // Kind::source: the number add_source() gave
};

struct LiveStats {
  uint64_t wakeups = 0;             // epoll returns
  uint64_t timer_wakeups = 0;       // of which the wheel's timer
  uint64_t spins = 0;               // waits finished by spinning on the clock
  uint64_t spin_ns = 0;             // time spent spinning
  uint64_t linger_ns = 0;           // polling for more of a burst before sleeping
  uint64_t spin_limited = 0;        // waits armed for the departure itself: spin share spent
  Duration early_wake{};            // the timer's current lead on a departure
  Duration send_lead{};             // the backend's longest send path, taken off departures
  uint64_t dropped_copies = 0;      // packets the engine dropped with every copy (consumed)
  LatencyHistogram lateness;        // how long after its departure time each packet was handed back
  LatencyHistogram read_latency;    // kernel's arrival stamp to the loop reading the packet
  LatencyHistogram timer_lateness;  // the wheel's timer firing after the time it was armed for
  LatencyHistogram wake_latency;    // the calibrator's poke to the loop running
  Duration wake_cost{};             // taken off unstamped arrivals that woke the loop
  uint64_t estimated_arrivals = 0;  // unstamped arrivals read first after a wake-up
  uint64_t unwatched_waits = 0;     // sleeps until a departure that left the queue unwatched
  uint64_t armed_ahead = 0;  // of the sleeps until a departure, those whose timer was armed already
  int nice = 0;              // the loop's nice value as the governor last set it
  uint64_t floods = 0;       // times the loop was lowered for reading a flood
  uint64_t late_raises = 0;  // of them, ended because a departure went late
  uint64_t nice_changes = 0;  // nice values applied by the governor
};

// Observes the engine (for the duration of one submit) to tell the backend when every copy of
// a packet was dropped: a held verdict is then answered with a drop.
class LiveDriver final : private EngineObserver {
 public:
  // `clock` must be CLOCK_MONOTONIC (SteadyClock): the timerfd is armed on it. Registers itself
  // as the engine's observer until destroyed.
  LiveDriver(Engine& engine, DivertBackend& backend, PacketPool& pool, const Clock& clock,
             SignalFd& signals, const LiveOptions& options);
  ~LiveDriver() override;
  LiveDriver(const LiveDriver&) = delete;
  LiveDriver& operator=(const LiveDriver&) = delete;

  // Moves packets until an event needs the caller; returns it. Throws only for a failure of
  // the loop's own kernel objects (epoll, timerfd, signalfd).
  LiveEvent run();

  // Orderly end: packets still waiting in the socket go on at once, then everything the
  // engine holds is handed back now (early, rather than lost when the queues unbind).
  void finish();

  // Every packet of direction `d` the backend can hand over carries the kernel's arrival stamp
  // and leaves no sooner than `slack` after it (forwarded or received traffic, delayed: see
  // soonest_departure): the loop may then sleep until a departure without watching that
  // direction's descriptor, as long as whatever came since the queue was last empty is read
  // in time at that wake-up -- one wake-up per packet instead of two. nullopt (the default):
  // always watched. Where both directions share a descriptor, it is left only when both may
  // be. Packets the backend passes on by itself (malformed ones) may then wait for that
  // wake-up too. A packet of `d` without a kernel stamp turns it off for `d`.
  // What came while the queue was unwatched is read after the departures the wake-up was for
  // (reading first could make them late); with `read_while_spinning`, in the spin before them
  // too, while at least LiveOptions::spin_read_margin remains, so that after them the loop
  // sleeps at once -- for host mode's inbound: the application a departure wakes is often
  // placed on the loop's CPU (a synchronous wake-up) and runs only when the loop sleeps. A
  // spin too short to read (a late timer) leaves it for the spin before the next departure,
  // while the wait until then may stay unwatched and for at most kMaxReadDeferral.
  void set_arrival_slack(Direction d, std::optional<Duration> slack,
                         bool read_while_spinning = false);

  // Watches `fd` (readable: an event source of the caller's, such as a control API's queue of
  // commands or a schedule's timer) beside the backend; run() returns a Kind::source event
  // with the number this returns when it is. The caller reads the descriptor (else it stays
  // readable and comes back at once) and keeps it open while the driver lives.
  size_t add_source(int fd);

  // Whether any direction has departures to time (see PriorityGovernor): false lowers the loop.
  void set_timing_needed(bool needed);

  const LiveStats& stats() const { return stats_; }

 private:
  static constexpr size_t kBatch = 64;
  static constexpr size_t kMaxPerWake = 1024;  // then departures get their turn
  static constexpr size_t kTimerWindow = 512;  // timer wake-ups the lead is chosen from
  static constexpr Duration kMaxSpinTurn = std::chrono::milliseconds(1);  // then the loop
  static constexpr size_t kDenseRead = 8;  // packets read in one wake-up that make it dense
  // A departure at least this far off is taken out of the wheel before the spin towards it,
  // with the timer armed for the one after (arming costs up to ~10 us on a VM).
  static constexpr Duration kArmAhead = std::chrono::microseconds(15);
  // What came while the queue was unwatched is read after the departures at the latest once
  // the queue was last seen empty this long ago (read_in_next_spin).
  static constexpr Duration kMaxReadDeferral = std::chrono::microseconds(500);

  std::optional<Duration> plan_wait();
  // The directions (bit index_of(d)) whose descriptors a wait of `timeout` may leave unwatched.
  unsigned unwatched_directions(std::optional<Duration> timeout) const;
  // The same for a wait until `wake`, `timeout` from now.
  unsigned unwatched_until(TimePoint wake, Duration timeout) const;
  // Whether what came while the queue was unwatched may be read in the spin before `next`.
  bool read_in_next_spin(std::optional<TimePoint> next, TimePoint now);
  void receive_all();  // sets backlog_ when it stopped with packets still waiting
  size_t receive_batch(TimePoint before);  // `before`: the clock read just before the call
  void linger();
  // Spins (reading the queue) until `due`, or until a packet read meanwhile is due, if that
  // is sooner; returns the clock's last reading.
  TimePoint spin_until(TimePoint due, TimePoint now);
  // The backend's send leads (DivertBackend::send_lead), read again.
  void refresh_send_leads();
  // When the next departure must be handed to the backend: its time less the longest lead.
  std::optional<TimePoint> next_send() const;
  // The spin budget (LiveOptions::max_spin_share) at `now`: whether there is some left.
  bool may_spin(TimePoint now);
  void spent_spinning(Duration d);
  void submit(Packet* packet);
  void duplicated(const Packet& original) override;
  void dropped(const Packet& packet) override;
  void send_due();
  // Hands `due` (in departure order) to the backend; `now`: the clock, read just before.
  void send_list(PacketList& due, TimePoint now);
  // The departure timer, armed for `when` unless it is already; whether it had to be.
  bool arm(TimePoint when);
  void read_signals();
  void dump(const Packet& packet);
  std::optional<LiveEvent> take_pending();
  // Tells the governor what was read since the last call; applies the weight it chooses.
  void govern_priority(TimePoint now);
  void apply_nice(std::optional<int> nice);

  Engine& engine_;
  DivertBackend& backend_;
  PacketPool& pool_;
  const Clock& clock_;
  SignalFd& signals_;
  LiveOptions options_;
  // By the directions left unwatched (bit index_of(d)): everything but their descriptors;
  // [0] watches everything.
  std::array<Epoll, 4> epolls_;
  std::array<std::optional<Duration>, kDirections> arrival_slack_{};
  std::array<bool, kDirections> spin_read_{};  // set_arrival_slack's read_while_spinning
  bool shared_fd_ = false;                     // both directions come through one descriptor
  bool read_after_departures_ = false;  // woke from an unwatched wait: read once they are out
  TimerFd stats_timer_;
  TimerFd departure_timer_;
  std::optional<TimePoint> armed_;         // the departure timer's time while it is armed
  std::optional<TimePoint> planned_wake_;  // the departure wait's end, while waiting
  void learn_timer_lateness(Duration late);
  std::array<int64_t, kTimerWindow> timer_late_ns_{};  // ring of recent timer lateness
  size_t timer_samples_ = 0;
  std::array<Duration, kDirections> send_lead_{};  // DivertBackend::send_lead, by direction
  Duration longest_send_lead_{};  // the longest of send_lead_: the wheel is read that far ahead
  int64_t spin_tokens_ns_ = 0;  // the spin budget left (LiveOptions::max_spin_share)
  TimePoint spin_refilled_{};   // the budget was last topped up then
  bool backlog_ = false;        // the backend may hold more than epoll knows of: read again
  std::optional<WakeCalibrator> calibrator_;
  ArrivalEstimator arrivals_;
  // Of the first packet read after a wake-up: epoll reported the queue (it came before the
  // wake-up), or the departure timer's wait ran out (it came after the timer's expiry, below,
  // and before the read, which may follow the departures that woke the loop).
  std::optional<TimePoint> next_arrival_;
  std::optional<TimePoint> timer_expired_;
  TimePoint quiet_since_{};  // the queue was last seen empty then
  std::array<Packet*, kBatch> batch_{};
  std::array<bool, 4> pending_{};  // by LiveEvent::Kind, up to stats_tick
  std::array<int, 4> pending_signal_{};
  std::vector<bool> pending_sources_;  // by add_source() number
  int64_t copies_alive_ = 0;  // of the packet being submitted
  std::optional<PriorityGovernor> governor_;
  uint64_t governed_received_ = 0;  // backend_.received() when the governor was last told
  Duration latest_since_governed_{};  // the latest departure handed back since then
  LiveStats stats_;
};

}  // namespace badlink
