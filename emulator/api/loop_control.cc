// LoopControl: the control API's changes, handed to the packet loop; see loop_control.hh.
#include "api/loop_control.hh"

#include <algorithm>
#include <future>

namespace badlink::api {

namespace {

template <class T>
T wait_for(std::future<T> future, std::chrono::milliseconds timeout) {
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw ApplyFailed("the packet loop did not answer within " + std::to_string(timeout.count()) +
                      " ms");
  }
  return future.get();
}

Profile effective(const Profile& loaded, const std::vector<DirectionKey>& keys) {
  if (keys.empty()) {
    return loaded;
  }
  return with_direction_keys(loaded, keys, loaded.source);
}

}  // namespace

LoopControl::LoopControl(ControlQueue& queue, Profile start, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds view_age)
    : queue_(queue),
      timeout_(timeout),
      view_age_(view_age),
      start_(std::move(start)),
      state_{start_, {}} {}

LoopView LoopControl::view() {
  const auto now = std::chrono::steady_clock::now();
  uint64_t epoch = 0;
  if (view_age_.count() > 0) {
    const std::lock_guard lock(view_mutex_);
    if (view_ && now - view_at_ < view_age_) {
      return *view_;
    }
    epoch = view_epoch_;
  }
  LoopView fresh = wait_for(queue_.view(), timeout_);
  if (view_age_.count() > 0) {
    const std::lock_guard lock(view_mutex_);
    if (epoch == view_epoch_) {  // no change began meanwhile: the view may be older than it
      view_ = fresh;
      view_at_ = now;
    }
  }
  return fresh;
}

Profile LoopControl::loaded() {
  const std::lock_guard lock(mutex_);
  return state_.loaded;
}

void LoopControl::forget_view() {
  const std::lock_guard lock(view_mutex_);
  view_.reset();
  ++view_epoch_;
}

template <class F>
void LoopControl::change(F edit, const std::string& who) {
  const std::lock_guard lock(mutex_);
  for (int attempt = 0;; ++attempt) {
    State next = edit(state_);
    Profile profile = effective(next.loaded, next.keys);
    try {
      std::future<uint64_t> applied = queue_.apply(std::move(profile), generation_, who);
      forget_view();  // whatever happens, a view from before is not served again
      generation_ = wait_for(std::move(applied), timeout_);
      forget_view();
      state_ = std::move(next);
      return;
    } catch (const GenerationConflict&) {
      if (attempt > 0) {
        throw ApplyFailed("the profile kept changing meanwhile (SIGHUP reloads); try again");
      }
      // A SIGHUP reload came first: its profile is the loaded one now.
      LoopView now = view();
      state_ = State{std::move(now.profile), {}};
      generation_ = now.generation;
    }
  }
}

void LoopControl::put(Profile next, const std::string& who) {
  change([&](const State&) { return State{next, {}}; }, who);
}

void LoopControl::outage(const std::string& link, const OutageStep& outage,
                         const std::string& who) {
  forget_view();
  wait_for(queue_.outage(link, outage, who), timeout_);
}

void LoopControl::timeline(TimelineAction action, const std::string& who) {
  forget_view();
  wait_for(queue_.timeline(action, who), timeout_);
  forget_view();  // a view asked for meanwhile may show the timeline as it was
}

void LoopControl::reset(const std::string& who) {
  change([&](const State&) { return State{start_, {}}; }, who);
}

void LoopControl::patch(const std::string& link, const std::vector<KeyChange>& changes,
                        const std::string& who) {
  change(
      [&](const State& s) {
        s.loaded.link(link);  // std::out_of_range: no such link
        State next = s;
        for (const KeyChange& c : changes) {
          std::erase_if(next.keys, [&](const DirectionKey& k) {
            return k.link == link && k.direction == c.direction && k.key == c.key;
          });
          if (c.toml_value) {
            next.keys.push_back(DirectionKey{link, c.direction, c.key, *c.toml_value});
          }
        }
        return next;
      },
      who);
}

}  // namespace badlink::api
