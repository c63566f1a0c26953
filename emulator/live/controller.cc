// Controller: the loop's side of the control API's commands; see controller.hh.
#include "live/controller.hh"

#include "profile/units.hh"

#include <spdlog/spdlog.h>

namespace badlink {

namespace {

const char* to_string(TimelineAction a) {
  switch (a) {
    case TimelineAction::restart:
      return "restart";
    case TimelineAction::pause:
      return "pause";
    case TimelineAction::resume:
      return "resume";
  }
  return "?";
}

const char* past_tense(TimelineAction a) {
  switch (a) {
    case TimelineAction::restart:
      return "restarted";
    case TimelineAction::pause:
      return "paused";
    case TimelineAction::resume:
      return "resumed";
  }
  return "?";
}

}  // namespace

Controller::Controller(Runtime& runtime, ControlQueue& queue, ProfileCheck check)
    : runtime_(runtime),
      queue_(queue),
      check_(std::move(check)),
      source_(runtime.add_source(queue.fd())) {}

bool Controller::handle(const LiveEvent& event) {
  if (event.kind != LiveEvent::Kind::source) {
    return false;
  }
  if (event.source == source_) {
    take_commands();
    return true;
  }
  if (event.source == runtime_.prepared_source() && applying_) {
    finish_apply();
    resume();
    return true;
  }
  return false;
}

void Controller::take_commands() {
  for (ControlCommand& command : queue_.take()) {
    if (auto* view = std::get_if<ViewCommand>(&command)) {
      try {
        view->reply.set_value(LoopView{runtime_.profile(), runtime_.snapshot(), generation_});
      } catch (...) {
        fail(command, std::current_exception());
      }
    } else if (auto* outage = std::get_if<OutageCommand>(&command)) {
      try {
        runtime_.start_outage(outage->link, outage->outage);
        spdlog::info("API ({}): link '{}': an outage of {} ({})", outage->who, outage->link,
                     format_duration(outage->outage.duration),
                     outage->outage.mode == Outage::hold ? "hold" : "drop");
        outage->reply.set_value();
      } catch (...) {
        fail(command, std::current_exception());
      }
    } else if (auto* timeline = std::get_if<TimelineCommand>(&command)) {
      move_timeline(*timeline);
    } else {
      waiting_.push_back(std::move(std::get<ApplyCommand>(command)));
    }
  }
  resume();
}

void Controller::move_timeline(TimelineCommand& command) {
  try {
    switch (command.action) {
      case TimelineAction::restart:
        runtime_.restart_timeline();
        break;
      case TimelineAction::pause:
        runtime_.pause_timeline();
        break;
      case TimelineAction::resume:
        runtime_.resume_timeline();
        break;
    }
  } catch (const std::logic_error& e) {
    spdlog::warn("API ({}): timeline {} refused: {}", command.who, to_string(command.action),
                 e.what());
    command.reply.set_exception(std::make_exception_ptr(CommandRefused(e.what())));
    return;
  } catch (...) {
    command.reply.set_exception(std::current_exception());
    return;
  }
  spdlog::info(
      "API ({}): timeline {} at +{:.3f} s", command.who, past_tense(command.action),
      static_cast<double>(runtime_.timeline_elapsed().value_or(Duration{0}).count()) / 1e9);
  command.reply.set_value();
}

void Controller::resume() {
  while (!runtime_.preparing() && !waiting_.empty()) {
    ApplyCommand c = std::move(waiting_.front());
    waiting_.pop_front();
    if (c.expected_generation && *c.expected_generation != generation_) {
      c.reply.set_exception(std::make_exception_ptr(GenerationConflict(
          "the profile was changed meanwhile (generation " + std::to_string(generation_) + ")")));
      continue;
    }
    try {
      if (check_) {
        check_(c.profile);
      }
    } catch (const std::exception& e) {
      c.reply.set_exception(std::make_exception_ptr(ProfileRefused(e.what())));
      continue;
    }
    try {
      runtime_.prepare_in_background(std::move(c.profile));
    } catch (const std::exception& e) {
      spdlog::warn("{}: change refused: {}", c.who, e.what());
      c.reply.set_exception(std::make_exception_ptr(ApplyFailed(e.what())));
      continue;
    }
    applying_.emplace(std::move(c));
  }
}

void Controller::finish_apply() {
  ApplyCommand c = std::move(*applying_);
  applying_.reset();
  try {
    runtime_.commit(runtime_.take_prepared());
  } catch (const std::exception& e) {
    spdlog::warn("{}: change refused: {}; still running profile '{}'", c.who, e.what(),
                 runtime_.profile().name);
    c.reply.set_exception(std::make_exception_ptr(ApplyFailed(e.what())));
    return;
  }
  ++generation_;
  spdlog::info("{}: applied profile '{}' (generation {})", c.who, runtime_.profile().name,
               generation_);
  c.reply.set_value(generation_);
}

void Controller::close() noexcept {
  queue_.close();
  for (ApplyCommand& c : waiting_) {
    c.reply.set_exception(std::make_exception_ptr(ControlClosed()));
  }
  waiting_.clear();
  if (applying_) {
    applying_->reply.set_exception(std::make_exception_ptr(ControlClosed()));
    applying_.reset();
  }
}

}  // namespace badlink
