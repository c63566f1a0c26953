// The control API's Control over the packet loop's ControlQueue: keeps the profile loaded (at
// start, by PUT, or found after a SIGHUP) and the PATCHed keys on top of it, and makes one
// change at a time, each waited for until the loop has committed it.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

#include "api/control.hh"
#include "live/control_queue.hh"
#include "profile/profile_edit.hh"

namespace badlink::api {

class LoopControl : public Control {
 public:
  // `start` is the profile the runtime started with (generation 0); `timeout` bounds each wait
  // for the loop. A view the loop handed back is served again for up to `view_age` (none
  // after a change), so that many scrapers cost the loop one snapshot per interval.
  LoopControl(ControlQueue& queue, Profile start, std::chrono::milliseconds timeout,
              std::chrono::milliseconds view_age = std::chrono::milliseconds(0));

  LoopView view() override;
  Profile loaded() override;
  void put(Profile next, const std::string& who) override;
  void patch(const std::string& link, const std::vector<KeyChange>& changes,
             const std::string& who) override;
  void reset(const std::string& who) override;
  void outage(const std::string& link, const OutageStep& outage, const std::string& who) override;
  void timeline(TimelineAction action, const std::string& who) override;

 private:
  struct State {
    Profile loaded;
    std::vector<DirectionKey> keys;  // PATCHed, in order; applied on top of `loaded`
  };
  // Applies what `edit` makes of the state; after a conflict (a SIGHUP reload committed
  // first) the loop's profile becomes the loaded one and `edit` is tried once more.
  template <class F>
  void change(F edit, const std::string& who);
  void forget_view();

  ControlQueue& queue_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds view_age_;
  std::mutex view_mutex_;
  std::optional<LoopView> view_;
  std::chrono::steady_clock::time_point view_at_;
  uint64_t view_epoch_ = 0;  // changes begun: a view asked for before one is not kept
  std::mutex mutex_;         // one change at a time
  Profile start_;
  State state_;
  uint64_t generation_ = 0;
};

}  // namespace badlink::api
