// A stand-in for the packet loop on the far side of a ControlQueue: a thread that answers
// views with the profile it holds and applies profiles as Controller would (generation
// checked, then moved on), for the control API's tests without a Runtime.
#pragma once

#include <poll.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "live/control_queue.hh"

namespace badlink::testing {

class FakeLoop {
 public:
  explicit FakeLoop(Profile profile) : profile_(std::move(profile)) {
    thread_ = std::thread([this]() { serve(); });
  }
  ~FakeLoop() {
    stop_ = true;
    thread_.join();
    queue.close();
  }

  // A SIGHUP reload: another profile, the generation moves on.
  void reload(Profile p) {
    const std::lock_guard lock(mutex_);
    profile_ = std::move(p);
    ++generation_;
  }
  Profile profile() {
    const std::lock_guard lock(mutex_);
    return profile_;
  }
  uint64_t applied() const { return applied_; }
  std::vector<std::string> outages() {
    const std::lock_guard lock(mutex_);
    return outages_;
  }

  ControlQueue queue;

 private:
  void serve() {
    while (!stop_) {
      pollfd p{queue.fd(), POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) {
        continue;
      }
      for (ControlCommand& c : queue.take()) {
        const std::lock_guard lock(mutex_);
        if (auto* v = std::get_if<ViewCommand>(&c)) {
          RuntimeSnapshot s;
          s.profile = profile_.name;
          for (const Link& l : profile_.links) {
            LinkSnapshot ls;
            ls.name = l.name;
            s.links.push_back(ls);
          }
          if (has_schedule()) {
            s.timeline_started_unix_ns = 1'000'000'000;
            s.timeline_paused = paused_;
            s.timeline_elapsed_ns = elapsed_ns_;
          }
          v->reply.set_value(LoopView{profile_, s, generation_});
          continue;
        }
        if (auto* t = std::get_if<TimelineCommand>(&c)) {
          timeline(*t);
          continue;
        }
        if (auto* o = std::get_if<OutageCommand>(&c)) {
          if (!profile_.links.empty() &&
              std::none_of(profile_.links.begin(), profile_.links.end(),
                           [&](const Link& l) { return l.name == o->link; })) {
            o->reply.set_exception(std::make_exception_ptr(std::out_of_range(o->link)));
            continue;
          }
          outages_.push_back(o->link);
          o->reply.set_value();
          continue;
        }
        auto& a = std::get<ApplyCommand>(c);
        if (a.expected_generation && *a.expected_generation != generation_) {
          a.reply.set_exception(std::make_exception_ptr(GenerationConflict("moved")));
          continue;
        }
        profile_ = std::move(a.profile);
        ++applied_;
        a.reply.set_value(++generation_);
      }
    }
  }

  bool has_schedule() const {
    return std::any_of(profile_.links.begin(), profile_.links.end(),
                       [](const Link& l) { return !l.schedule.empty(); });
  }
  // As Runtime's timeline answers: refused without a schedule, or paused/running already;
  // its time moves 1 s a command while it runs.
  void timeline(TimelineCommand& t) {
    const auto refuse = [&](const char* why) {
      t.reply.set_exception(std::make_exception_ptr(CommandRefused(why)));
    };
    if (!has_schedule()) {
      return refuse("no link has a schedule");
    }
    if (!paused_) {
      elapsed_ns_ += 1'000'000'000;
    }
    if (t.action == TimelineAction::pause && paused_) {
      return refuse("the timeline is paused already");
    }
    if (t.action == TimelineAction::resume && !paused_) {
      return refuse("the timeline is running, not paused");
    }
    paused_ = t.action == TimelineAction::pause;
    if (t.action == TimelineAction::restart) {
      elapsed_ns_ = 0;
    }
    t.reply.set_value();
  }

  std::mutex mutex_;
  bool paused_ = false;
  int64_t elapsed_ns_ = 0;
  std::vector<std::string> outages_;  // the links outages were asked for, in order
  Profile profile_;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> applied_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace badlink::testing
