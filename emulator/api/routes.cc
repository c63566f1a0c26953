// The control API's routes; see routes.hh.
#include "api/routes.hh"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>
#include <vector>

#include "api/json_toml.hh"
#include "api/metrics.hh"
#include "io/stats_json.hh"
#include "live/runtime_snapshot.hh"
#include "profile/units.hh"
#include "profile/profile_edit.hh"

namespace badlink::api {

namespace {

using nlohmann::json;

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  // A target's bytes are not always UTF-8 (a link name from the path, echoed in an error):
  // replaced, so that a bad name gets its 404, not a 500 from dump().
  r.body = body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

Response method_not_allowed(std::string_view allow) {
  Response r = error_response(405, "method not allowed; this route takes " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

std::vector<std::string> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  size_t at = 0;
  while (at < target.size()) {
    const size_t slash = target.find('/', at);
    const size_t end = slash == std::string_view::npos ? target.size() : slash;
    if (end > at) {
      parts.emplace_back(target.substr(at, end - at));
    }
    at = end + 1;
  }
  return parts;
}

// The media type without parameters, lower case: "application/json; charset=utf-8" -> ...
std::string media_type(std::string_view header) {
  std::string t(header.substr(0, header.find(';')));
  std::erase_if(t, [](char c) { return c == ' ' || c == '\t'; });
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

bool is_json(std::string_view content_type) {
  const std::string t = media_type(content_type);
  return t == "application/json" || t == "application/merge-patch+json";
}

bool is_toml(std::string_view content_type) {
  const std::string t = media_type(content_type);
  return t == "application/toml" || t == "text/toml" || t == "text/x-toml";
}

json parse_json_body(const std::string& body) {
  return json::parse(body);  // json::parse_error: see bad_json()
}

Response bad_json(const json::parse_error& e, const std::string& body) {
  uint32_t line = 1;
  uint32_t column = 1;
  const size_t end = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, body.size());
  for (size_t i = 0; i < end; ++i) {
    if (body[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string message = e.what();
  // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
  if (const size_t colon = message.find(": "); colon != std::string::npos) {
    message = "invalid JSON: " + message.substr(colon + 2);
  }
  return error_response(400, message, line, column);
}

// A number too large for a double ("1e999"): nlohmann's parser throws out_of_range (406),
// not parse_error, for it.
Response bad_json_number(const json::out_of_range& e) {
  std::string message = e.what();
  // "[json.exception.out_of_range.406] number overflow parsing '1e999'"
  if (const size_t bracket = message.find("] "); bracket != std::string::npos) {
    message = message.substr(bracket + 2);
  }
  return error_response(400, "invalid JSON: " + message);
}

// Every diagnostic in "errors", the first one's position (if `positions`) beside the joined
// message.
Response bad_profile(const ProfileError& e, bool positions) {
  json body{{"error", ""}, {"errors", json::array()}};
  std::string message;
  for (const Diagnostic& d : e.diagnostics()) {
    message += (message.empty() ? "" : "; ") + d.message;
    json one{{"message", d.message}};
    if (positions && d.line > 0) {
      one["line"] = d.line;
      one["column"] = d.column;
      if (!body.contains("line")) {
        body["line"] = d.line;
        body["column"] = d.column;
      }
    }
    body["errors"].push_back(one);
  }
  body["error"] = message;
  return json_response(400, body);
}

// What a change that threw gets back.
Response failed_change(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ProfileError& e) {
    return bad_profile(e, false);
  } catch (const ProfileRefused& e) {
    return error_response(400, e.what());
  } catch (const ControlClosed& e) {
    return error_response(503, e.what());
  } catch (const std::out_of_range& e) {
    return error_response(404, e.what());
  } catch (const ApplyFailed& e) {
    return error_response(409, e.what());
  } catch (const CommandRefused& e) {
    return error_response(409, e.what());
  } catch (const std::exception& e) {
    return error_response(500, e.what());
  }
}

json profile_document(const Profile& p) { return json::parse(profile_json(p)); }

// A link's configuration as profile_json writes it: its match and directions (absent: null,
// a direction that passes packets unimpaired).
json link_config(const Profile& profile, const std::string& name) {
  const json doc = profile_document(profile);
  json link;
  if (doc.contains("link")) {
    for (const json& l : doc["link"]) {
      if (l.value("name", "") == name) {
        link = l;
      }
    }
  } else {
    link = doc;
  }
  json out{{"name", name}};
  for (const char* key : {"match", "outbound", "inbound"}) {
    out[key] = link.contains(key) ? link[key] : json(nullptr);
  }
  return out;
}

json link_json(const LoopView& view, const std::string& name) {
  json out = link_config(view.profile, name);
  for (const LinkSnapshot& l : view.snapshot.links) {
    if (l.name == name) {
      json stats;
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        stats[std::string(to_string(d))] =
            json::parse(direction_stats_json(l.directions[index_of(d)]).dump());
      }
      out["stats"] = stats;
    }
  }
  return out;
}

bool has_link(const Profile& p, const std::string& name) {
  return std::any_of(p.links.begin(), p.links.end(), [&](const Link& l) { return l.name == name; });
}

Response no_link(const std::string& name) {
  return error_response(404, "no link '" + name + "' in the running profile");
}

Response get_profile(const Request& r, Control& control) {
  const LoopView view = control.view();
  if (media_type(r.accept).find("toml") != std::string::npos) {  // "application/toml", ...
    Response out;
    out.content_type = "application/toml";
    out.body = render_profile(view.profile);
    return out;
  }
  return json_response(200, profile_document(view.profile));
}

Response put_profile(const Request& r, Control& control) {
  const bool toml = is_toml(r.content_type);
  if (!toml && !is_json(r.content_type)) {
    return error_response(415, "a profile is application/toml or application/json");
  }
  std::string text = r.body;
  if (!toml) {
    try {
      text = toml_document(parse_json_body(r.body));
    } catch (const json::parse_error& e) {
      return bad_json(e, r.body);
    } catch (const json::out_of_range& e) {
      return bad_json_number(e);
    } catch (const std::invalid_argument& e) {
      return error_response(400, e.what());
    }
  }
  Profile next;
  try {
    // Trace files named relative to the running profile's directory, as its own are.
    next =
        parse_profile(text, "PUT /v1/profile", trace_directory_of(control.view().profile.source));
  } catch (const ProfileError& e) {
    return bad_profile(e, toml);  // a JSON body's positions would point into generated TOML
  }
  try {
    control.put(std::move(next), r.peer);
  } catch (...) {
    return failed_change(std::current_exception());
  }
  return json_response(200, profile_document(control.view().profile));
}

// A request's JSON object body, or the response refusing it: 415 for another content type, 400
// with the position for bad JSON or with "WHAT is a JSON object SHAPE" for another value.
std::variant<json, Response> json_object_body(const Request& r, const std::string& what,
                                              const std::string& shape) {
  if (!is_json(r.content_type)) {
    return error_response(415, what + " is application/json");
  }
  json body;
  try {
    body = parse_json_body(r.body);
  } catch (const json::parse_error& e) {
    return bad_json(e, r.body);
  } catch (const json::out_of_range& e) {
    return bad_json_number(e);
  }
  if (!body.is_object()) {
    return error_response(400, what + " is a JSON object" + shape);
  }
  return body;
}

// A JSON object of direction keys as changes of direction `d` (null: back to the profile's);
// nullopt and `refused` set when a value is not one a profile takes.
std::optional<std::vector<KeyChange>> key_changes(const json& keys, Direction d,
                                                  const std::string& prefix, Response& refused) {
  std::vector<KeyChange> changes;
  for (const auto& [key, value] : keys.items()) {
    if (value.is_null()) {
      changes.push_back(KeyChange{d, key, std::nullopt});
      continue;
    }
    try {
      changes.push_back(KeyChange{d, key, toml_value(value)});
    } catch (const std::invalid_argument& e) {
      refused = error_response(400, prefix + key + ": " + e.what());
      return std::nullopt;
    }
  }
  return changes;
}

// nullopt: committed; else the refusal.
std::optional<Response> apply_patch(const Request& r, Control& control, const std::string& link,
                                    const std::vector<KeyChange>& changes) {
  try {
    control.patch(link, changes, r.peer);
  } catch (...) {
    return failed_change(std::current_exception());
  }
  return std::nullopt;
}

Response patch_direction(const Request& r, Control& control, const std::string& link, Direction d) {
  auto parsed = json_object_body(
      r, "a PATCH body", " of direction keys, e.g. {\"delay\": \"80ms\", \"loss\": \"5%\"}");
  if (auto* refused = std::get_if<Response>(&parsed)) {
    return std::move(*refused);
  }
  Response refused;
  const std::optional<std::vector<KeyChange>> changes =
      key_changes(std::get<json>(parsed), d, "", refused);
  if (!changes) {
    return refused;
  }
  if (std::optional<Response> failed = apply_patch(r, control, link, *changes)) {
    return std::move(*failed);
  }
  return json_response(200, link_config(control.view().profile, link)[std::string(to_string(d))]);
}

// {"outbound": {...}, "inbound": {...}}: both directions' keys in one change.
Response patch_link(const Request& r, Control& control, const std::string& link) {
  auto parsed = json_object_body(r, "a PATCH body",
                                 " of directions, e.g. {\"outbound\": {\"delay\": \"80ms\"}, "
                                 "\"inbound\": {\"rate\": \"1mbit\"}}");
  if (auto* refused = std::get_if<Response>(&parsed)) {
    return std::move(*refused);
  }
  std::vector<KeyChange> changes;
  for (const auto& [name, keys] : std::get<json>(parsed).items()) {
    if (name != "outbound" && name != "inbound") {
      return error_response(400, "unknown key '" + name +
                                     "'; a link's PATCH takes outbound and "
                                     "inbound, each an object of direction keys");
    }
    if (!keys.is_object()) {
      return error_response(400, name +
                                     " is a JSON object of direction keys, e.g. "
                                     "{\"delay\": \"80ms\"}");
    }
    Response refused;
    const std::optional<std::vector<KeyChange>> some = key_changes(
        keys, name == "outbound" ? Direction::outbound : Direction::inbound, name + ".", refused);
    if (!some) {
      return refused;
    }
    changes.insert(changes.end(), some->begin(), some->end());
  }
  if (std::optional<Response> failed = apply_patch(r, control, link, changes)) {
    return std::move(*failed);
  }
  return json_response(200, link_config(control.view().profile, link));
}

// {"duration": "2s", "mode": "drop"|"hold", "direction": "both"|"outbound"|"inbound"}: as a
// schedule step's outage.
Response post_outage(const Request& r, Control& control, const std::string& link) {
  auto parsed =
      json_object_body(r, "an outage", ", e.g. {\"duration\": \"2s\", \"mode\": \"hold\"}");
  if (auto* refused = std::get_if<Response>(&parsed)) {
    return std::move(*refused);
  }
  json& body = std::get<json>(parsed);
  OutageStep outage;
  for (const auto& [key, value] : body.items()) {
    if (key != "duration" && key != "mode" && key != "direction") {
      return error_response(400, "unknown key '" + key +
                                     "'; an outage takes duration, mode and direction");
    }
    if (!value.is_string()) {
      return error_response(400, key + ": expected a string");
    }
  }
  if (!body.contains("duration")) {
    return error_response(400, "duration is missing, e.g. {\"duration\": \"2s\"}");
  }
  try {
    outage.duration = parse_duration(body["duration"].get<std::string>());
  } catch (const std::exception& e) {
    return error_response(400, std::string("duration: ") + e.what());
  }
  if (outage.duration.count() <= 0 || outage.duration > std::chrono::hours(24)) {
    return error_response(400, "duration: must be longer than 0 and at most a day");
  }
  const std::string mode = body.value("mode", std::string("drop"));
  if (mode != "drop" && mode != "hold") {
    return error_response(400, "mode: \"" + mode + "\" is not one of \"drop\", \"hold\"");
  }
  outage.mode = mode == "hold" ? Outage::hold : Outage::drop;
  const std::string direction = body.value("direction", std::string("both"));
  if (direction != "both" && direction != "outbound" && direction != "inbound") {
    return error_response(400, "direction: \"" + direction +
                                   "\" is not one of \"both\", \"outbound\", \"inbound\"");
  }
  outage.directions = {direction != "inbound", direction != "outbound"};
  try {
    control.outage(link, outage, r.peer);
  } catch (...) {
    return failed_change(std::current_exception());
  }
  return json_response(200, json{{"link", link},
                                 {"outage", {{"duration", body["duration"]},
                                             {"mode", mode},
                                             {"direction", direction}}}});
}

// The schedules' timeline: its start (null: no link has a schedule), whether it is paused, its
// time (paused time left out; null without a schedule) and each link's step in force (null: its
// own directions), the schedule's cycle and its steps' times.
json timeline_json(const LoopView& view) {
  const RuntimeSnapshot& now = view.snapshot;
  json out;
  out["started_unix_ns"] =
      now.timeline_started_unix_ns ? json(*now.timeline_started_unix_ns) : json(nullptr);
  out["paused"] = now.timeline_started_unix_ns && now.timeline_paused;
  out["elapsed_ns"] = now.timeline_started_unix_ns ? json(now.timeline_elapsed_ns) : json(nullptr);
  out["links"] = json::object();
  for (const Link& link : view.profile.links) {
    json l;
    l["step"] = nullptr;
    l["cycle"] = 0;
    for (const LinkSnapshot& s : view.snapshot.links) {
      if (s.name == link.name) {
        l["step"] = s.step ? json(*s.step) : json(nullptr);
        l["cycle"] = s.cycle;
      }
    }
    l["steps_at"] = json::array();
    for (const ScheduleStep& step : link.schedule.steps) {
      l["steps_at"].push_back(format_duration(step.at));
    }
    l["repeat"] = link.schedule.repeat ? json(format_duration(*link.schedule.repeat))
                                       : json(nullptr);
    out["links"][link.name] = l;
  }
  return out;
}

// POST /v1/timeline/restart|pause|resume: the timeline as GET /v1/timeline shows it after.
Response move_timeline(const Request& r, Control& control, const std::string& what) {
  TimelineAction action = TimelineAction::restart;
  if (what == "pause") {
    action = TimelineAction::pause;
  } else if (what == "resume") {
    action = TimelineAction::resume;
  } else if (what != "restart") {
    return error_response(404,
                          "no route " + r.target + "; the timeline takes restart, pause, resume");
  }
  if (r.method != "POST") {
    return method_not_allowed("POST");
  }
  try {
    control.timeline(action, r.peer);
  } catch (...) {
    return failed_change(std::current_exception());
  }
  return json_response(200, timeline_json(control.view()));
}

Response links_route(const Request& r, Control& control, const std::vector<std::string>& path) {
  if (path.size() == 2) {
    if (r.method != "GET") {
      return method_not_allowed("GET");
    }
    const LoopView view = control.view();
    json out = json::array();
    for (const Link& l : view.profile.links) {
      out.push_back(link_json(view, l.name));
    }
    return json_response(200, out);
  }
  const std::string& link = path[2];
  if (path.size() == 3) {
    if (r.method == "PATCH") {
      return patch_link(r, control, link);
    }
    if (r.method != "GET") {
      return method_not_allowed("GET, PATCH");
    }
    const LoopView view = control.view();
    return has_link(view.profile, link) ? json_response(200, link_json(view, link)) : no_link(link);
  }
  if (path.size() == 4 && (path[3] == "outbound" || path[3] == "inbound")) {
    const Direction d = path[3] == "outbound" ? Direction::outbound : Direction::inbound;
    if (r.method == "GET") {
      const LoopView view = control.view();
      return has_link(view.profile, link)
                 ? json_response(200, link_config(view.profile, link)[path[3]])
                 : no_link(link);
    }
    if (r.method != "PATCH") {
      return method_not_allowed("GET, PATCH");
    }
    return patch_direction(r, control, link, d);
  }
  if (path.size() == 4 && path[3] == "outage") {
    if (r.method != "POST") {
      return method_not_allowed("POST");
    }
    return post_outage(r, control, link);
  }
  return error_response(404, "no route " + r.target);
}

bool authorized(const Request& r, const RouteOptions& options) {
  if (options.token.empty()) {
    return true;
  }
  const std::string expected = "Bearer " + options.token;
  // Compared in full whatever the first difference, so the time says nothing of the token.
  if (r.authorization.size() != expected.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(r.authorization[i] ^ expected[i]);
  }
  return diff == 0;
}

Response dispatch(const Request& r, Control& control, const RouteOptions& options) {
  const std::vector<std::string> path = split_path(r.target);
  if (path.size() == 1 && path[0] == "healthz") {
    if (r.method != "GET") {
      return method_not_allowed("GET");
    }
    const LoopView view = control.view();
    return json_response(
        200, {{"status", "ok"}, {"profile", view.profile.name}, {"generation", view.generation}});
  }
  if (!authorized(r, options)) {
    Response out = error_response(401,
                                  "this endpoint needs \"Authorization: Bearer TOKEN\" "
                                  "(the token of --api-token-file)");
    out.headers.emplace_back("WWW-Authenticate", "Bearer");
    return out;
  }
  if (path.size() == 1 && path[0] == "metrics") {
    if (r.method != "GET") {
      return method_not_allowed("GET");
    }
    Response out;
    out.content_type = std::string(kMetricsContentType);
    out.body = prometheus_text(control.view().snapshot, options.version);
    return out;
  }
  if (path.empty() || path[0] != "v1" || path.size() < 2) {
    return error_response(404, "no route " + r.target);
  }
  const std::string& what = path[1];
  if (what == "profile" && path.size() == 2) {
    if (r.method == "GET") {
      return get_profile(r, control);
    }
    if (r.method == "PUT") {
      return put_profile(r, control);
    }
    return method_not_allowed("GET, PUT");
  }
  if (what == "links") {
    return links_route(r, control, path);
  }
  if (what == "reset" && path.size() == 2) {
    if (r.method != "POST") {
      return method_not_allowed("POST");
    }
    try {
      control.reset(r.peer);
    } catch (...) {
      return failed_change(std::current_exception());
    }
    return json_response(200, profile_document(control.view().profile));
  }
  if (what == "stats" && path.size() == 2) {
    if (r.method != "GET") {
      return method_not_allowed("GET");
    }
    Response out;
    // ?delay_buckets=1: the delay histograms too (ctl watch takes each second's percentiles).
    const bool buckets = r.target.find("delay_buckets=1") != std::string::npos;
    out.body = snapshot_json(control.view().snapshot, std::nullopt, 0, buckets);
    return out;
  }
  if (what == "timeline" && path.size() == 2) {
    if (r.method != "GET") {
      return method_not_allowed("GET");
    }
    return json_response(200, timeline_json(control.view()));
  }
  if (what == "timeline" && path.size() == 3) {
    return move_timeline(r, control, path[2]);
  }
  return error_response(404, "no route " + r.target);
}

}  // namespace

Response error_response(int status, const std::string& message, uint32_t line, uint32_t column) {
  json body{{"error", message}};
  if (line > 0) {
    body["line"] = line;
    body["column"] = column;
  }
  return json_response(status, body);
}

Response route(const Request& request, Control& control, const RouteOptions& options) {
  if (request.body.size() > kMaxBody) {
    return error_response(413, "a body may have at most 1 MiB");
  }
  try {
    return dispatch(request, control, options);
  } catch (...) {
    return failed_change(std::current_exception());
  }
}

}  // namespace badlink::api
