// Profile parsing: a toml++ tree walked once, every problem collected as a Diagnostic with the
// position of the offending key or value, and nothing returned unless all of it is valid.
#include "profile/profile.hh"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <span>
#include <sstream>
#include <tuple>
#include <utility>
#include <variant>

#include "profile/match_set.hh"
#include "profile/units.hh"

namespace badlink {

std::string Diagnostic::to_string() const {
  if (line == 0) {
    return file + ": " + message;
  }
  if (column == 0) {
    return file + ":" + std::to_string(line) + ": " + message;  // a line of a trace
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

namespace {

std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    if (!out.empty()) {
      out += "\n";
    }
    out += d.to_string();
  }
  return out;
}

}  // namespace

ProfileError::ProfileError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

namespace {

using namespace std::string_view_literals;

constexpr std::array kSections{"profile"sv, "match"sv,    "outbound"sv,        "inbound"sv,
                               "link"sv,    "schedule"sv, "schedule_options"sv};
constexpr std::array kClassicSections{"match"sv, "outbound"sv, "inbound"sv, "schedule"sv,
                                      "schedule_options"sv};
constexpr std::array kLinkKeys{"name"sv,    "match"sv,    "outbound"sv,
                               "inbound"sv, "schedule"sv, "schedule_options"sv};
constexpr std::array kStepKeys{"at"sv, "outbound"sv, "inbound"sv, "outage"sv};
constexpr std::array kOutageKeys{"duration"sv, "mode"sv, "direction"sv};
constexpr std::array kOutageModes{"drop"sv, "hold"sv};
constexpr std::array kOutageDirections{"both"sv, "outbound"sv, "inbound"sv};
constexpr std::array kScheduleOptionKeys{"repeat"sv};
// The longest a schedule may run before it repeats or holds: a week.
constexpr Duration kMaxScheduleTime = std::chrono::hours(24 * 7);
constexpr std::array kProfileKeys{"name"sv, "description"sv, "seed"sv};
constexpr std::array kMatchKeys{"protocol"sv, "ports"sv, "hosts"sv, "interface"sv};
constexpr std::array kDirectionKeys{"delay"sv,       "jitter"sv,  "distribution"sv, "correlation"sv,
                                    "keep_order"sv,  "loss"sv,    "duplicate"sv,    "reorder"sv,
                                    "reorder_gap"sv, "corrupt"sv, "rate"sv,         "queue_limit"sv,
                                    "trace"sv,       "slot"sv};
constexpr std::array kRateTraceKeys{"trace"sv, "loop"sv};
constexpr std::array kSlotKeys{"min"sv, "max"sv, "packets"sv, "bytes"sv};
// A trace file is read whole: more than this is not a trace.
constexpr uintmax_t kMaxTraceFileBytes = uintmax_t{256} << 20;
constexpr std::array kProtocols{"all"sv, "tcp"sv, "udp"sv, "icmp"sv};
constexpr std::array kDistributions{"uniform"sv, "normal"sv, "pareto"sv, "paretonormal"sv};
constexpr std::array kLossModels{"bernoulli"sv, "gilbert-elliott"sv, "gilbert"sv, "markov"sv};
constexpr std::array kBernoulliKeys{"model"sv, "p"sv};
constexpr std::array kGilbertElliottKeys{"model"sv, "p"sv, "r"sv, "h"sv, "k"sv};
constexpr std::array kGilbertKeys{"model"sv, "p"sv, "r"sv};
constexpr std::array kMarkovKeys{"model"sv, "p13"sv, "p31"sv, "p32"sv, "p23"sv, "p14"sv};

// Words tc, dummynet or other tools use for what badlink spells differently.
struct Synonym {
  std::string_view word;
  std::string_view meant;
};
constexpr std::array kSynonyms{
    Synonym{"latency", "delay"},
    Synonym{"limit", "queue_limit"},
    Synonym{"queue", "queue_limit"},
    Synonym{"qlen", "queue_limit"},
    Synonym{"gap", "reorder_gap"},
    Synonym{"duplication", "duplicate"},
    Synonym{"corruption", "corrupt"},
    Synonym{"bandwidth", "rate"},
    Synonym{"bw", "rate"},
    Synonym{"plr", "loss"},
    Synonym{"drop", "loss"},
    Synonym{"reordering", "reorder"},
    Synonym{"gemodel", "gilbert-elliott"},
    Synonym{"state", "markov"},
    Synonym{"proto", "protocol"},
    Synonym{"port", "ports"},
    Synonym{"host", "hosts"},
    Synonym{"dev", "interface"},
    Synonym{"iface", "interface"},
    Synonym{"distribution_correlation", "correlation"},
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Optimal string alignment distance, case-insensitive (a transposition counts as one edit).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate the user most likely meant, if any is close enough.
std::optional<std::string_view> suggest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  for (const Synonym& s : kSynonyms) {
    if (edit_distance(word, s.word) == 0 &&
        std::find(candidates.begin(), candidates.end(), s.meant) != candidates.end()) {
      return s.meant;
    }
  }
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    const std::size_t limit = c.size() >= 6 ? 2 : 1;
    const std::size_t distance = edit_distance(word, c);
    if (distance <= limit && distance < best_distance) {
      best = c;
      best_distance = distance;
    }
  }
  return best;
}

std::string join(std::span<const std::string_view> words, std::string_view quote = "") {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      out += i + 1 == words.size() ? " or " : ", ";
    }
    out += std::string(quote) + std::string(words[i]) + std::string(quote);
  }
  return out;
}

// No loss at all is no loss model, so the direction can stay a pass-through.
LossConfig bernoulli(double p) {
  if (p == 0.0) {
    return std::monostate{};
  }
  return BernoulliLoss{p};
}

// The whole of `file` into `text`; 0, or the errno that stopped it (a profile, a trace).
int read_whole_file(const std::filesystem::path& file, std::string& text) {
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return errno != 0 ? errno : ENOENT;
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    return errno != 0 ? errno : EIO;
  }
  text = std::move(out).str();
  return 0;
}

std::string in_quotes(std::string_view s) {
  std::string out;  // not "\"" + std::string(...): GCC 12 -O3 warns falsely (-Wrestrict)
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// The number as the user wrote it, for hints like 'write "40ms"'.
std::string number_text(const toml::node& node) {
  if (const auto* i = node.as_integer()) {
    return std::to_string(i->get());
  }
  if (const auto* f = node.as_floating_point()) {
    return format_number(f->get());
  }
  return "";
}

struct Position {
  uint32_t line = 1;
  uint32_t column = 1;
};

Position position_of(const toml::source_region& region) {
  if (region.begin.line == 0) {
    return {};
  }
  return {region.begin.line, region.begin.column};
}

Position position_of(const toml::node& node) { return position_of(node.source()); }

// Where to point at a key: a [section] header at its bracket, anything else at the key.
Position position_of(const toml::key& key, const toml::node& value) {
  if (const auto* t = value.as_table(); t != nullptr && !t->is_inline()) {
    return position_of(value);
  }
  return position_of(key.source());
}

// A value that was looked up in a table, with its full dotted name for messages.
struct Field {
  const toml::node* node = nullptr;
  std::string path;

  explicit operator bool() const { return node != nullptr; }
};

Field field(const toml::table& table, std::string_view prefix, std::string_view key) {
  return {table.get(key), std::string(prefix) + std::string(key)};
}

// Where a key belongs when it is not valid where it was written; in_link: inside a [[link]].
std::optional<std::string> home_section(std::string_view key, bool in_link = false) {
  if (std::find(kProfileKeys.begin(), kProfileKeys.end(), key) != kProfileKeys.end()) {
    return "[profile]";
  }
  if (std::find(kMatchKeys.begin(), kMatchKeys.end(), key) != kMatchKeys.end()) {
    return in_link ? "link.match" : "[match]";
  }
  if (std::find(kDirectionKeys.begin(), kDirectionKeys.end(), key) != kDirectionKeys.end()) {
    return in_link ? "link.outbound or link.inbound" : "[outbound] or [inbound]";
  }
  return std::nullopt;
}

// Link names appear in JSON keys, logs and later in chain names: kept to a safe alphabet.
bool valid_link_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

class Parser {
 public:
  Parser(std::string file, std::filesystem::path trace_dir)
      : file_(std::move(file)), trace_dir_(std::move(trace_dir)) {}

  Profile parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(file_));
    } catch (const toml::parse_error& e) {
      error(position_of(e.source()), "invalid TOML: " + std::string(e.description()));
      fail();
    }
    Profile profile;
    profile.source = file_;
    check_root(root);
    if (const auto* t = root.get_as<toml::table>("profile")) {
      parse_profile_section(*t, profile);
    } else if (root.get("profile") == nullptr) {
      error(Position{},
            "profile.name is missing: every profile needs [profile] with a name, e.g. "
            "name = \"lte-busy\"");
    }
    if (const toml::node* links = root.get("link")) {
      refuse_classic_sections(root, position_of(*links));
      parse_links(*links, profile);
    } else {
      profile.links.push_back(parse_classic_link(root));
    }
    if (diagnostics_.empty()) {
      check_shadows(profile);
    }
    if (!diagnostics_.empty()) {
      fail();
    }
    return profile;
  }

 private:
  void error(Position at, std::string message) {
    diagnostics_.push_back({file_, at.line, at.column, std::move(message)});
  }
  void error(const Field& f, std::string message) {
    error(position_of(*f.node), f.path + ": " + std::move(message));
  }

  std::string where(Position at) const {
    return file_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
  }

  // The classic form: top-level [match], [outbound] and [inbound] are the one link "default".
  Link parse_classic_link(const toml::table& root) {
    Link link;
    link.name = std::string(kDefaultLinkName);
    for (std::string_view section : kClassicSections) {
      if (const toml::node* n = root.get(section); n != nullptr && link.position.line == 0) {
        const Position at = position_of(*n);
        link.position = {at.line, at.column};
      }
    }
    if (const auto* t = root.get_as<toml::table>("match")) {
      link.match = parse_match(*t, "match.");
    }
    if (const auto* t = root.get_as<toml::table>("outbound")) {
      link.outbound = parse_direction(*t, "outbound.", nullptr, &link.traces[0]);
      link.has_outbound = true;
    }
    if (const auto* t = root.get_as<toml::table>("inbound")) {
      link.inbound = parse_direction(*t, "inbound.", nullptr, &link.traces[1]);
      link.has_inbound = true;
    }
    link.schedule =
        parse_schedule(root.get("schedule"), root.get("schedule_options"), "schedule",
                       {root.get_as<toml::table>("outbound"), root.get_as<toml::table>("inbound")},
                       link.configs(), traces_end(link));
    return link;
  }

  // A file is written in one form or the other: with [[link]], nothing is top-level.
  void refuse_classic_sections(const toml::table& root, Position links_at) {
    for (auto&& [key, value] : root) {
      const std::string_view name = key.str();
      if (std::find(kClassicSections.begin(), kClassicSections.end(), name) ==
          kClassicSections.end()) {
        continue;
      }
      error(position_of(key, value),
            "[" + std::string(name) + "] cannot be used beside [[link]] (" + where(links_at) +
                "): with links, each link has its own " + std::string(name) +
                "; move it into a [[link]], or write the profile without [[link]]");
    }
  }

  void parse_links(const toml::node& node, Profile& profile) {
    const auto* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables() || array->empty()) {
      if (node.is_table()) {
        error(position_of(node),
              "[link] is a single table; links are written [[link]] (two brackets), one per link");
      } else {
        error(position_of(node),
              "link: expected [[link]] tables, one per link, got " + type_name(node));
      }
      return;
    }
    std::vector<Position> name_positions;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::table& t = *array->get(i)->as_table();
      const Field name = field(t, "link.", "name");
      Link link = parse_link(t);
      if (name && !link.name.empty()) {
        for (std::size_t j = 0; j < profile.links.size(); ++j) {
          if (profile.links[j].name == link.name) {
            error(name, in_quotes(link.name) + " is already the name of the link at " +
                            where(name_positions[j]) + "; link names must be unique");
          }
        }
      }
      name_positions.push_back(name ? position_of(*name.node) : Position{});
      profile.links.push_back(std::move(link));
    }
  }

  Link parse_link(const toml::table& t) {
    Link link;
    const Position at = position_of(t);
    link.position = {at.line, at.column};
    for (auto&& [key, value] : t) {
      const std::string_view name = key.str();
      if (std::find(kLinkKeys.begin(), kLinkKeys.end(), name) != kLinkKeys.end()) {
        continue;
      }
      std::string message = "unknown key 'link." + std::string(name) + "'";
      const auto home = home_section(name, true);
      if (home && name != "name") {
        message += "; '" + std::string(name) + "' belongs in " + *home;
      } else if (const auto guess = suggest(name, kLinkKeys)) {
        message += "; did you mean '" + std::string(*guess) + "'?";
      } else {
        message += "; a [[link]] takes " + join(kLinkKeys);
      }
      error(position_of(key, value), std::move(message));
    }
    if (const Field f = field(t, "link.", "name")) {
      if (auto name = get_string(f)) {
        if (valid_link_name(*name)) {
          link.name = std::move(*name);
        } else {
          error(f, in_quotes(*name) +
                       " is not a valid link name: use lowercase letters a-z, digits 0-9, '_' "
                       "and '-'");
        }
      }
    } else {
      error(at, "link.name is missing: every [[link]] needs a name, e.g. name = \"video\"");
    }
    if (const Field f = field(t, "link.", "match")) {
      if (const auto* m = f.node->as_table()) {
        link.match = parse_match(*m, "link.match.");
      } else {
        wrong_type(f, "a table like { protocol = \"udp\", ports = [\"5000-5100\"] }");
      }
    }
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      const std::string key(to_string(d));
      if (const Field f = field(t, "link.", key)) {
        if (const auto* c = f.node->as_table()) {
          (d == Direction::outbound ? link.outbound : link.inbound) =
              parse_direction(*c, "link." + key + ".", nullptr, &link.traces[index_of(d)]);
          (d == Direction::outbound ? link.has_outbound : link.has_inbound) = true;
        } else {
          wrong_type(f, "a table like { delay = \"20ms\" }");
        }
      }
    }
    link.schedule =
        parse_schedule(t.get("schedule"), t.get("schedule_options"), "link.schedule",
                       {t.get_as<toml::table>("outbound"), t.get_as<toml::table>("inbound")},
                       link.configs(), traces_end(link));
    return link;
  }

  // [[schedule]] (or [[link.schedule]]) steps and [schedule_options] over a link whose own
  // direction tables are `base` (nullptr: none) and whose configs they give `base_configs`.
  // The end of a link's CSV traces' last rows (nullopt: it has none).
  static std::optional<Duration> traces_end(const Link& link) {
    std::optional<Duration> end;
    for (const auto& t : link.traces) {
      if (t) {
        end = std::max(end.value_or(Duration{0}), t->duration());
      }
    }
    return end;
  }

  // `trace_end`: the link's CSV traces run to there on the same clock (nullopt: it has none).
  Schedule parse_schedule(const toml::node* steps, const toml::node* options,
                          const std::string& prefix, std::array<const toml::table*, 2> base,
                          const DirectionConfigs& base_configs, std::optional<Duration> trace_end) {
    Schedule schedule;
    if (steps != nullptr) {
      const auto* array = steps->as_array();
      if (array == nullptr || !array->is_array_of_tables()) {
        error(position_of(*steps),
              steps->is_table()
                  ? "[" + prefix + "] is a single table; steps are written [[" + prefix +
                        "]] (two brackets), one per step"
                  : prefix + ": expected [[" + prefix + "]] tables, one per step, got " +
                        type_name(*steps));
      } else {
        for (const toml::node& node : *array) {
          parse_step(*node.as_table(), prefix, base, base_configs, schedule);
        }
      }
    }
    if (options != nullptr) {
      const std::string options_name = prefix + "_options";
      if (const auto* t = options->as_table()) {
        check_keys(*t, options_name + ".", kScheduleOptionKeys, "[" + options_name + "]");
        if (const Field f = field(*t, options_name + ".", "repeat")) {
          if (const auto repeat = get_time(f)) {
            Duration end{0};
            for (const ScheduleStep& step : schedule.steps) {
              end = std::max(end, step.at + (step.outage ? step.outage->duration : Duration{0}));
            }
            if (repeat->count() <= 0) {
              error(f, "must be longer than 0");
            } else if (schedule.steps.empty() && !trace_end) {
              error(f, "repeats nothing: the link has no [[" + prefix + "]] steps and no trace");
            } else if (trace_end && *repeat <= *trace_end) {
              error(f, "must be longer than the link's trace (its last row at " +
                           format_duration(*trace_end) + "): the trace starts again after it");
            } else if (schedule.steps.empty()) {
              schedule.repeat = repeat;
            } else if (*repeat <= schedule.steps.back().at || *repeat < end) {
              error(f, "must be longer than the last step (at " +
                           format_duration(schedule.steps.back().at) + ") and its outage (to " +
                           format_duration(end) + "): the steps start again after it");
            } else {
              schedule.repeat = repeat;
            }
          }
        }
      } else {
        error(position_of(*options), options_name + ": expected a table [" + options_name +
                                         "], got " + type_name(*options));
      }
    }
    return schedule;
  }

  void parse_step(const toml::table& t, const std::string& prefix,
                  std::array<const toml::table*, 2> base, const DirectionConfigs& base_configs,
                  Schedule& schedule) {
    const Position at_pos = position_of(t);
    ScheduleStep step;
    step.position = {at_pos.line, at_pos.column};
    // A direction the step names no keys of stays as the step before left it (an outage does
    // not undo a step); one it names is the link's own keys with the step's over them.
    step.configs = schedule.steps.empty() ? base_configs : schedule.steps.back().configs;
    check_keys(t, prefix + ".", kStepKeys, "a [[" + prefix + "]] step");
    const Field at = field(t, prefix + ".", "at");
    if (!at) {
      error(at_pos, prefix + ".at is missing: every step starts at a time after the start, e.g. "
                             "at = \"10s\"");
      return;
    }
    const std::optional<Duration> when = get_time(at);
    if (!when) {
      return;
    }
    if (!schedule.steps.empty() && *when <= schedule.steps.back().at) {
      const SourcePosition& p = schedule.steps.back().position;
      error(at, "steps must come in order of time: this one (" + format_duration(*when) +
                    ") is not after the one at " + where(Position{p.line, p.column}) + " (" +
                    format_duration(schedule.steps.back().at) + ")");
      return;
    }
    step.at = *when;
    bool named_any = false;
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      const std::string key(to_string(d));
      const Field f = field(t, prefix + ".", key);
      if (!f) {
        continue;
      }
      const auto* keys = f.node->as_table();
      if (keys == nullptr) {
        wrong_type(f, "a table like { delay = \"80ms\" }");
        continue;
      }
      named_any = true;
      // The step's keys over the link's own: parsed together so that the checks across keys
      // (jitter's shape needs jitter) see what will be in force.
      const size_t before = diagnostics_.size();
      step.configs[index_of(d)] = parse_direction(*keys, prefix + "." + key + ".", base[index_of(d)]);
      drop_repeated_diagnostics(before);
      toml::table shown;
      toml::table copy = *keys;
      copy.is_inline(true);
      shown.insert("x", std::move(copy));
      std::ostringstream text;
      text << toml::toml_formatter(shown);
      std::string line = text.str();
      step.named[index_of(d)] = line.substr(line.find('=') + 2);
    }
    if (const Field f = field(t, prefix + ".", "outage")) {
      named_any = true;
      if (const auto* o = f.node->as_table()) {
        step.outage = parse_outage(*o, prefix + ".outage.", f);
      } else {
        wrong_type(f, "a table like { duration = \"2s\", mode = \"drop\" }");
      }
    }
    if (!named_any) {
      error(at_pos, "this step changes nothing: give it outbound, inbound or outage keys");
    }
    schedule.steps.push_back(std::move(step));
  }

  std::optional<OutageStep> parse_outage(const toml::table& t, const std::string& prefix,
                                         const Field& whole) {
    check_keys(t, prefix, kOutageKeys, "an outage");
    OutageStep o;
    if (const Field f = field(t, prefix, "duration")) {
      const auto d = get_time(f);
      if (!d) {
        return std::nullopt;
      }
      if (d->count() <= 0) {
        error(f, "must be longer than 0");
        return std::nullopt;
      }
      o.duration = *d;
    } else {
      error(whole, "needs a duration, e.g. { duration = \"2s\" }");
      return std::nullopt;
    }
    if (const Field f = field(t, prefix, "mode")) {
      if (const auto m = get_choice(f, kOutageModes)) {
        o.mode = *m == "hold" ? Outage::hold : Outage::drop;
      }
    }
    if (const Field f = field(t, prefix, "direction")) {
      if (const auto d = get_choice(f, kOutageDirections)) {
        o.directions = {*d != "inbound", *d != "outbound"};
      }
    }
    return o;
  }

  // A time after the timeline's start: a duration of up to a week.
  std::optional<Duration> get_time(const Field& f) {
    if (const auto* s = f.node->as_string()) {
      try {
        const Duration d = parse_duration(s->get());
        if (d > kMaxScheduleTime) {
          error(f, in_quotes(s->get()) + " is longer than the maximum of a week (\"604800s\")");
          return std::nullopt;
        }
        return d;
      } catch (const UnitError& e) {
        error(f, e.what());
        return std::nullopt;
      }
    }
    return get_duration(f);  // its messages for numbers and other types
  }

  // A step's direction is parsed with the link's own keys: a problem in those was reported
  // already, at the same place.
  void drop_repeated_diagnostics(size_t first_new) {
    std::vector<Diagnostic> kept(diagnostics_.begin(), diagnostics_.begin() + first_new);
    for (size_t i = first_new; i < diagnostics_.size(); ++i) {
      const Diagnostic& d = diagnostics_[i];
      const bool repeated = std::any_of(kept.begin(), kept.begin() + first_new, [&](const Diagnostic& k) {
        return k.line == d.line && k.column == d.column;
      });
      if (!repeated) {
        kept.push_back(d);
      }
    }
    diagnostics_ = std::move(kept);
  }

  // First match wins: a link that an earlier one takes every packet of would never see one.
  void check_shadows(const Profile& profile) {
    for (std::size_t i = 1; i < profile.links.size(); ++i) {
      const Link& later = profile.links[i];
      for (std::size_t j = 0; j < i; ++j) {
        const Link& earlier = profile.links[j];
        if (!covers(earlier.match, later.match)) {
          continue;
        }
        const Position earlier_at{earlier.position.line, earlier.position.column};
        error(Position{later.position.line, later.position.column},
              "link " + in_quotes(later.name) + " never gets a packet: link " +
                  in_quotes(earlier.name) + " (" + where(earlier_at) +
                  ") comes first and matches everything it matches (" + describe(later.match) +
                  "); put " + in_quotes(later.name) + " before " + in_quotes(earlier.name) +
                  " or narrow " + in_quotes(earlier.name) + "'s match");
        break;
      }
    }
  }

  [[noreturn]] void fail() {
    // The profile's own first, then each trace file's, each in line order.
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [this](const Diagnostic& a, const Diagnostic& b) {
                       return std::tuple(a.file != file_, a.file, a.line, a.column) <
                              std::tuple(b.file != file_, b.file, b.line, b.column);
                     });
    throw ProfileError(std::move(diagnostics_));
  }

  // Reports every key of table that is not in allowed. prefix is the dotted path of table
  // ("outbound."), where names it for the message ("[outbound]"). Returns the keys it
  // suggested, which the caller treats as present but unknown rather than absent.
  std::vector<std::string_view> check_keys(
      const toml::table& table, std::string_view prefix, std::span<const std::string_view> allowed,
      std::string_view where, std::initializer_list<std::string_view> reported_elsewhere = {}) {
    std::vector<std::string_view> suggested;
    for (auto&& [key, value] : table) {
      const std::string_view name = key.str();
      if (std::find(allowed.begin(), allowed.end(), name) != allowed.end() ||
          std::find(reported_elsewhere.begin(), reported_elsewhere.end(), name) !=
              reported_elsewhere.end()) {
        continue;
      }
      std::string message = "unknown key '" + std::string(prefix) + std::string(name) + "'";
      const bool in_link = prefix.starts_with("link.");
      const auto home = home_section(name, in_link);
      const bool top_level = prefix.find('.') == prefix.size() - 1;
      if (home && (top_level || (in_link && prefix.find('.', 5) == prefix.size() - 1))) {
        message += "; '" + std::string(name) + "' belongs in " + *home;
      } else if (const auto guess = suggest(name, allowed)) {
        message += "; did you mean '" + std::string(*guess) + "'?";
        suggested.push_back(*guess);
      } else {
        message += "; " + std::string(where) + " takes " + join(allowed);
      }
      error(position_of(key, value), std::move(message));
    }
    return suggested;
  }

  void check_root(const toml::table& root) {
    for (auto&& [key, value] : root) {
      const std::string_view name = key.str();
      const bool known = std::find(kSections.begin(), kSections.end(), name) != kSections.end();
      const auto* table = value.as_table();
      if (known) {
        // [[link]] and [[schedule]] are arrays: parse_links and parse_schedule check them.
        if (table == nullptr && name != "link" && name != "schedule") {
          error(position_of(key, value), std::string(name) + ": expected a table [" +
                                             std::string(name) + "], got " + type_name(value));
        }
        continue;
      }
      std::string message;
      if (table != nullptr) {
        message = "unknown section [" + std::string(name) + "]";
        if (const auto guess = suggest(name, kSections)) {
          message += *guess == "link" ? "; did you mean [[link]]?"
                                      : "; did you mean [" + std::string(*guess) + "]?";
        } else {
          message += "; a profile has the sections " + join(section_names());
        }
      } else if (const auto home = home_section(name)) {
        message = "'" + std::string(name) + "' is outside any section; put it under " + *home;
      } else {
        message = "unknown key '" + std::string(name) + "' outside any section; a profile has " +
                  "the sections " + join(section_names());
      }
      error(position_of(key, value), std::move(message));
    }
  }

  static std::span<const std::string_view> section_names() {
    static constexpr std::array kDisplay{"[profile]"sv,  "[match]"sv,
                                         "[outbound]"sv, "[inbound]"sv,
                                         "[[link]]"sv,   "[[schedule]]"sv,
                                         "[schedule_options]"sv};
    return kDisplay;
  }

  void wrong_type(const Field& f, std::string_view expected) {
    error(f, "expected " + std::string(expected) + ", got " + type_name(*f.node));
  }

  std::optional<std::string> get_string(const Field& f) {
    if (const auto* s = f.node->as_string()) {
      return s->get();
    }
    wrong_type(f, "a string");
    return std::nullopt;
  }

  std::optional<bool> get_bool(const Field& f) {
    if (const auto* b = f.node->as_boolean()) {
      return b->get();
    }
    wrong_type(f, "true or false");
    return std::nullopt;
  }

  std::optional<int64_t> get_integer(const Field& f, int64_t min, int64_t max) {
    const auto* i = f.node->as_integer();
    if (i == nullptr) {
      wrong_type(f, "an integer " + std::to_string(min) + ".." + std::to_string(max));
      return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
      error(f, std::to_string(i->get()) + " is out of range; expected an integer " +
                   std::to_string(min) + ".." + std::to_string(max));
      return std::nullopt;
    }
    return i->get();
  }

  // One of a fixed set of words, with a suggestion for near misses.
  std::optional<std::string_view> get_choice(const Field& f,
                                             std::span<const std::string_view> choices) {
    const auto text = get_string(f);
    if (!text) {
      return std::nullopt;
    }
    for (std::string_view c : choices) {
      if (c == *text) {
        return c;
      }
    }
    std::string message = in_quotes(*text) + " is not one of " + join(choices, "\"");
    if (const auto guess = suggest(*text, choices)) {
      message += "; did you mean \"" + std::string(*guess) + "\"?";
    }
    error(f, std::move(message));
    return std::nullopt;
  }

  std::optional<Duration> get_duration(const Field& f) {
    if (const auto* s = f.node->as_string()) {
      try {
        const Duration d = parse_duration(s->get());
        if (d > kMaxDelay) {
          error(f, in_quotes(s->get()) + " is longer than the maximum of 1 hour (\"3600s\")");
          return std::nullopt;
        }
        return d;
      } catch (const UnitError& e) {
        error(f, e.what());
        return std::nullopt;
      }
    }
    if (f.node->is_number()) {
      error(f, "a duration needs a unit: write \"" + number_text(*f.node) +
                   "ms\" (units: ns, us, ms, s)");
      return std::nullopt;
    }
    wrong_type(f, "a duration like \"40ms\"");
    return std::nullopt;
  }

  std::optional<double> get_probability(const Field& f) {
    try {
      if (const auto* s = f.node->as_string()) {
        return parse_percentage(s->get());
      }
      if (const auto* i = f.node->as_integer()) {
        return check_probability(static_cast<double>(i->get()));
      }
      if (const auto* d = f.node->as_floating_point()) {
        return check_probability(d->get());
      }
    } catch (const UnitError& e) {
      error(f, e.what());
      return std::nullopt;
    }
    wrong_type(f, "a probability: a number 0..1 or a percentage like \"2.5%\"");
    return std::nullopt;
  }

  std::optional<uint64_t> get_rate(const Field& f) {
    if (const auto* s = f.node->as_string()) {
      try {
        return parse_rate(s->get());
      } catch (const UnitError& e) {
        error(f, e.what());
        return std::nullopt;
      }
    }
    if (f.node->is_number()) {
      const std::string n = number_text(*f.node);
      error(f,
            "a rate needs a unit: write \"" + n + "mbit\" (bits/s) or \"" + n + "MB/s\" (bytes/s)");
      return std::nullopt;
    }
    wrong_type(f, "a rate like \"10mbit\"");
    return std::nullopt;
  }

  std::optional<QueueLimit> get_queue_limit(const Field& f) {
    if (const auto* i = f.node->as_integer()) {
      if (i->get() < 1) {
        error(f, std::to_string(i->get()) +
                     " is out of range; expected a packet count of at least 1 or a size like "
                     "\"64KB\"");
        return std::nullopt;
      }
      return QueueLimit{static_cast<uint64_t>(i->get()), 0};
    }
    if (const auto* s = f.node->as_string()) {
      try {
        return QueueLimit{0, parse_size(s->get())};
      } catch (const UnitError& e) {
        error(f, e.what());
        return std::nullopt;
      }
    }
    wrong_type(f, "a packet count like 1000 or a size like \"64KB\"");
    return std::nullopt;
  }

  void parse_profile_section(const toml::table& t, Profile& profile) {
    check_keys(t, "profile.", kProfileKeys, "[profile]");
    if (const Field f = field(t, "profile.", "name")) {
      if (auto name = get_string(f)) {
        if (name->empty()) {
          error(f, "must not be empty");
        }
        profile.name = std::move(*name);
      }
    } else {
      error(position_of(t),
            "profile.name is missing: every profile needs a name, e.g. "
            "name = \"lte-busy\"");
    }
    if (const Field f = field(t, "profile.", "description")) {
      if (auto text = get_string(f)) {
        profile.description = std::move(*text);
      }
    }
    if (const Field f = field(t, "profile.", "seed")) {
      if (const auto seed = get_integer(f, 0, std::numeric_limits<int64_t>::max())) {
        profile.seed = static_cast<uint64_t>(*seed);
      }
    }
  }

  std::optional<PortRange> parse_port_range(const Field& f) {
    const std::string expected = "a port 1..65535 or a range like \"6000-6100\"";
    if (const auto* i = f.node->as_integer()) {
      if (i->get() < 1 || i->get() > 65535) {
        error(f, std::to_string(i->get()) + " is not a port; expected " + expected);
        return std::nullopt;
      }
      const auto port = static_cast<uint16_t>(i->get());
      return PortRange{port, port};
    }
    const auto* s = f.node->as_string();
    if (s == nullptr) {
      wrong_type(f, expected);
      return std::nullopt;
    }
    const std::string& text = s->get();
    auto parse_port = [](std::string_view p) -> std::optional<uint16_t> {
      if (p.empty() || p.size() > 5 ||
          !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
      }
      const int value = std::stoi(std::string(p));
      if (value < 1 || value > 65535) {
        return std::nullopt;
      }
      return static_cast<uint16_t>(value);
    };
    const auto dash = text.find('-');
    const std::string_view first_text = std::string_view(text).substr(0, dash);
    const std::string_view last_text =
        dash == std::string::npos ? first_text : std::string_view(text).substr(dash + 1);
    const auto first = parse_port(first_text);
    const auto last = parse_port(last_text);
    if (!first || !last) {
      error(f, in_quotes(text) + " is not a port or port range; expected " + expected);
      return std::nullopt;
    }
    if (*first > *last) {
      error(f, in_quotes(text) + " is reversed; write \"" + std::string(last_text) + "-" +
                   std::string(first_text) + "\"");
      return std::nullopt;
    }
    return PortRange{*first, *last};
  }

  std::optional<Cidr> parse_cidr(const Field& f) {
    const auto* s = f.node->as_string();
    const std::string expected = "an address or CIDR like \"192.0.2.0/24\" or \"2001:db8::/32\"";
    if (s == nullptr) {
      wrong_type(f, expected);
      return std::nullopt;
    }
    const std::string& text = s->get();
    const auto slash = text.find('/');
    const std::string address_text = text.substr(0, slash);
    Cidr cidr;
    if (inet_pton(AF_INET, address_text.c_str(), cidr.address.data()) == 1) {
      cidr.family = 4;
    } else if (inet_pton(AF_INET6, address_text.c_str(), cidr.address.data()) == 1) {
      cidr.family = 6;
    } else {
      error(f, in_quotes(text) + " is not " + expected);
      return std::nullopt;
    }
    const int max_prefix = cidr.family == 4 ? 32 : 128;
    int prefix = max_prefix;
    if (slash != std::string::npos) {
      const std::string p = text.substr(slash + 1);
      if (p.empty() || p.size() > 3 ||
          !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          std::stoi(p) > max_prefix) {
        error(f, in_quotes(text) + ": the prefix length must be 0.." + std::to_string(max_prefix) +
                     " for IPv" + std::to_string(cidr.family));
        return std::nullopt;
      }
      prefix = std::stoi(p);
    }
    cidr.prefix_length = static_cast<uint8_t>(prefix);
    std::array<uint8_t, 16> network = cidr.address;
    const std::size_t bytes = cidr.family == 4 ? 4 : 16;
    for (std::size_t i = 0; i < bytes; ++i) {
      const int bits_here = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
      const auto mask = static_cast<uint8_t>(bits_here == 0 ? 0 : (0xff << (8 - bits_here)) & 0xff);
      network[i] = static_cast<uint8_t>(network[i] & mask);
    }
    std::array<char, INET6_ADDRSTRLEN> buf{};
    inet_ntop(cidr.family == 4 ? AF_INET : AF_INET6, network.data(), buf.data(),
              static_cast<socklen_t>(buf.size()));
    const std::string normalised = std::string(buf.data()) + "/" + std::to_string(prefix);
    if (network != cidr.address) {
      error(f, in_quotes(text) + " has host bits set beyond the /" + std::to_string(prefix) +
                   " prefix; did you mean \"" + normalised + "\"?");
      return std::nullopt;
    }
    cidr.text = normalised;
    return cidr;
  }

  // Runs one_item on each element of an array, or on the value itself when it is not one.
  template <typename T, typename F>
  std::vector<T> parse_list(const Field& f, F&& one_item) {
    std::vector<T> out;
    if (const auto* array = f.node->as_array()) {
      for (std::size_t i = 0; i < array->size(); ++i) {
        const Field item{array->get(i), f.path + "[" + std::to_string(i) + "]"};
        if (auto value = one_item(item)) {
          out.push_back(std::move(*value));
        }
      }
    } else if (auto value = one_item(f)) {
      out.push_back(std::move(*value));
    }
    return out;
  }

  Match parse_match(const toml::table& t, const std::string& prefix) {
    check_keys(t, prefix, kMatchKeys, "[" + prefix.substr(0, prefix.size() - 1) + "]");
    Match match;
    if (const Field f = field(t, prefix, "protocol")) {
      if (const auto p = get_choice(f, kProtocols)) {
        match.protocol = *p == "tcp"    ? Protocol::tcp
                         : *p == "udp"  ? Protocol::udp
                         : *p == "icmp" ? Protocol::icmp
                                        : Protocol::all;
      }
    }
    if (const Field f = field(t, prefix, "ports")) {
      match.ports =
          parse_list<PortRange>(f, [this](const Field& item) { return parse_port_range(item); });
      if (match.protocol == Protocol::icmp && !match.ports.empty()) {
        error(f, "ports need protocol \"tcp\", \"udp\" or \"all\"; ICMP has no ports");
      }
    }
    if (const Field f = field(t, prefix, "hosts")) {
      match.hosts = parse_list<Cidr>(f, [this](const Field& item) { return parse_cidr(item); });
    }
    if (const Field f = field(t, prefix, "interface")) {
      if (auto name = get_string(f)) {
        // The rules of the kernel's dev_valid_name().
        const bool bad_char = std::any_of(name->begin(), name->end(), [](char c) {
          return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
                 c == '\v' || c == '\f' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
        if (name->empty()) {
          error(f, "must not be empty; leave the key out to match every interface");
        } else if (name->size() > 15) {
          error(f, in_quotes(*name) + " is longer than 15 characters, the Linux limit");
        } else if (*name == "." || *name == ".." || bad_char) {
          error(f, in_quotes(*name) +
                       " is not a valid interface name (no '/', ':', whitespace, \".\" or \"..\")");
        } else {
          match.interface = std::move(*name);
        }
      }
    }
    return match;
  }

  std::optional<double> get_loss_parameter(const toml::table& t, const std::string& prefix,
                                           std::string_view key, bool& ok) {
    if (const Field f = field(t, prefix, key)) {
      const auto p = get_probability(f);
      ok = ok && p.has_value();
      return p;
    }
    return std::nullopt;
  }

  // A probability (Bernoulli) or a table naming the model. After an error the result does not
  // matter: the profile is not returned.
  LossConfig parse_loss(const Field& f) {
    const auto* t = f.node->as_table();
    if (t == nullptr) {
      if (f.node->is_string() || f.node->is_number()) {
        const auto p = get_probability(f);
        if (!p) {
          return {};
        }
        return bernoulli(*p);
      }
      wrong_type(f, "a probability or a table like { model = \"gilbert\", p = 0.01, r = 0.3 }");
      return {};
    }
    const std::string prefix = f.path + ".";
    const Field model_field = field(*t, prefix, "model");
    if (!model_field) {
      error(f, "a loss table needs model = " + join(kLossModels, "\""));
      return {};
    }
    const auto model = get_choice(model_field, kLossModels);
    if (!model) {
      return {};
    }
    const std::string where = f.path + " (model \"" + std::string(*model) + "\")";
    bool ok = true;
    auto require = [&](std::string_view key) {
      if (t->get(key) == nullptr) {
        error(f, "model \"" + std::string(*model) + "\" needs " + std::string(key) + " (" + prefix +
                     std::string(key) + " is missing)");
        ok = false;
      }
    };
    if (*model == "bernoulli") {
      check_keys(*t, prefix, kBernoulliKeys, where);
      require("p");
      const auto p = get_loss_parameter(*t, prefix, "p", ok);
      if (!ok) {
        return {};
      }
      return bernoulli(*p);
    }
    if (*model == "gilbert-elliott" || *model == "gilbert") {
      if (*model == "gilbert") {
        // Simple Gilbert fixes h and k; say so rather than "unknown key".
        for (auto&& [key, value] : *t) {
          if (key.str() == "h" || key.str() == "k") {
            error(position_of(key, value),
                  prefix + std::string(key.str()) +
                      ": not allowed with model \"gilbert\", which fixes h = 0 and k = 1; use "
                      "model = \"gilbert-elliott\" to set h and k");
            ok = false;
          }
        }
        check_keys(*t, prefix, kGilbertKeys, where, {"h"sv, "k"sv});
      } else {
        check_keys(*t, prefix, kGilbertElliottKeys, where);
      }
      require("p");
      require("r");
      GilbertElliottLoss ge;
      const auto p = get_loss_parameter(*t, prefix, "p", ok);
      const auto r = get_loss_parameter(*t, prefix, "r", ok);
      std::optional<double> h;
      std::optional<double> k;
      if (*model == "gilbert-elliott") {
        h = get_loss_parameter(*t, prefix, "h", ok);
        k = get_loss_parameter(*t, prefix, "k", ok);
      }
      if (!ok) {
        return {};
      }
      ge.p = *p;
      ge.r = *r;
      ge.h = h.value_or(0.0);
      ge.k = k.value_or(1.0);
      return ge;
    }
    // markov
    check_keys(*t, prefix, kMarkovKeys, where);
    require("p13");
    const auto p13 = get_loss_parameter(*t, prefix, "p13", ok);
    const auto p31 = get_loss_parameter(*t, prefix, "p31", ok);
    const auto p32 = get_loss_parameter(*t, prefix, "p32", ok);
    const auto p23 = get_loss_parameter(*t, prefix, "p23", ok);
    const auto p14 = get_loss_parameter(*t, prefix, "p14", ok);
    if (!ok) {
      return {};
    }
    MarkovLoss m;
    m.p13 = *p13;
    m.p31 = p31.value_or(1.0 - m.p13);
    m.p32 = p32.value_or(0.0);
    m.p23 = p23.value_or(1.0);
    m.p14 = p14.value_or(0.0);
    constexpr double kSlack = 1e-12;  // 0.7 + 0.3 must not fail on rounding
    if (m.p13 + m.p14 > 1.0 + kSlack) {
      error(f, "p13 + p14 = " + format_number(m.p13 + m.p14) +
                   " is more than 1 (they leave state 1 together)");
      ok = false;
    }
    if (m.p31 + m.p32 > 1.0 + kSlack) {
      error(f, "p31 + p32 = " + format_number(m.p31 + m.p32) +
                   " is more than 1 (they leave state 3 together" +
                   (p31 ? std::string(")") : std::string("; p31 defaults to 1 - p13)")));
      ok = false;
    }
    if (!ok) {
      return {};
    }
    return m;
  }

  // A trace file's text, or nullopt with the reason at `f`. Relative names are the profile's
  // directory's.
  std::optional<std::string> read_trace(const Field& f, const std::string& name) {
    if (name.empty()) {
      error(f, "names no file");
      return std::nullopt;
    }
    const std::filesystem::path path = trace_path(name);
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::is_regular_file(status)) {
      error(f, "cannot read trace " + in_quotes(path.string()) + ": " +
                   (ec ? ec.message() : std::string("not a regular file")));
      return std::nullopt;
    }
    if (std::filesystem::file_size(path, ec) > kMaxTraceFileBytes || ec) {
      error(f, "cannot read trace " + in_quotes(path.string()) + ": larger than 256 MiB");
      return std::nullopt;
    }
    std::string text;
    if (const int failed = read_whole_file(path, text)) {
      error(f, "cannot read trace " + in_quotes(path.string()) + ": " + std::strerror(failed));
      return std::nullopt;
    }
    return text;
  }

  std::filesystem::path trace_path(const std::string& name) const {
    const std::filesystem::path p(name);
    return p.is_absolute() ? p : trace_dir_ / p;
  }

  // Each problem at its line of the trace, and the key that named it where it is written.
  void trace_errors(const Field& f, const std::string& name, const TraceError& e) {
    const std::string file = trace_path(name).string();
    for (const TraceProblem& p : e.problems()) {
      diagnostics_.push_back({file, p.line, 0, p.message});
    }
    error(f, "the trace " + in_quotes(name) + " is not valid (" +
                 std::to_string(e.problems().size()) + " problem" +
                 (e.problems().size() == 1 ? "" : "s") + ", below)");
  }

  // slot = { min = "1ms", max = "5ms", packets = 32, bytes = "64KB" } (netem's slot)
  SlotConfig get_slot(const toml::table& t, const Field& whole) {
    const std::string prefix = whole.path + ".";
    check_keys(t, prefix, kSlotKeys, "a slot");
    SlotConfig slot;
    const Field min = field(t, prefix, "min");
    if (!min) {
      error(whole,
            "a slot needs min, the least time a slot opens after a packet is ready "
            "(e.g. { min = \"1ms\", max = \"5ms\" })");
      return {};
    }
    const std::optional<Duration> low = get_duration(min);
    if (!low) {
      return {};
    }
    if (low->count() <= 0) {
      error(min, "must be longer than 0");
      return {};
    }
    slot.min = slot.max = *low;
    if (const Field f = field(t, prefix, "max")) {
      const std::optional<Duration> high = get_duration(f);
      if (!high) {
        return {};
      }
      if (*high < *low) {
        error(f, format_duration(*high) + " is less than min (" + format_duration(*low) + ")");
        return {};
      }
      slot.max = *high;
    }
    if (const Field f = field(t, prefix, "packets")) {
      slot.packets = static_cast<uint64_t>(get_integer(f, 1, 1'000'000).value_or(0));
    }
    if (const Field f = field(t, prefix, "bytes")) {
      if (const auto* b = f.node->as_string()) {
        try {
          slot.bytes = parse_size(b->get());
        } catch (const UnitError& e) {
          error(f, e.what());
        }
      } else {
        wrong_type(f, "a size like \"64KB\"");
      }
    }
    return slot;
  }

  // rate = { trace = "FILE", loop = true }
  std::shared_ptr<const DeliveryTrace> get_delivery_trace(const toml::table& t,
                                                          const Field& whole) {
    const std::string prefix = whole.path + ".";
    check_keys(t, prefix, kRateTraceKeys, "a rate trace");
    bool loop = true;
    if (const Field f = field(t, prefix, "loop")) {
      loop = get_bool(f).value_or(true);
    }
    const Field f = field(t, prefix, "trace");
    if (!f) {
      error(whole,
            "a rate table names a packet-delivery trace: { trace = \"FILE\" } (Mahimahi's "
            "format), or give a rate like \"10mbit\"");
      return nullptr;
    }
    const auto* s = f.node->as_string();
    if (s == nullptr) {
      wrong_type(f, "a file name like \"cellular.down\"");
      return nullptr;
    }
    const std::optional<std::string> text = read_trace(f, s->get());
    if (!text) {
      return nullptr;
    }
    try {
      return std::make_shared<const DeliveryTrace>(parse_delivery_trace(*text, s->get(), loop));
    } catch (const TraceError& e) {
      trace_errors(f, s->get(), e);
      return nullptr;
    }
  }

  // `under`: keys that apply where `t` does not name them (a schedule step's link); reported
  // where they are written.
  // `trace`: where a CSV trace goes (nullptr: none may be named here, a schedule's step).
  DirectionConfig parse_direction(const toml::table& t, const std::string& prefix,
                                  const toml::table* under = nullptr,
                                  std::shared_ptr<const ConfigTrace>* trace = nullptr) {
    const auto lookup = [&](std::string_view name) {
      Field f = field(t, prefix, name);
      if (!f && under != nullptr) {
        f = field(*under, prefix, name);
      }
      return f;
    };
    const std::string section = "[" + prefix.substr(0, prefix.size() - 1) + "]";
    const auto suggested = check_keys(t, prefix, kDirectionKeys, section);
    const auto misspelt = [&suggested](std::string_view key) {
      return std::find(suggested.begin(), suggested.end(), key) != suggested.end();
    };
    DirectionConfig c;
    // nullopt where the key was wrong or misspelt, so cross-checks do not pile on.
    std::optional<Duration> delay = Duration{0};
    std::optional<Duration> jitter = Duration{0};
    std::optional<double> reorder = 0.0;
    if (misspelt("delay")) {
      delay.reset();
    }
    if (misspelt("jitter")) {
      jitter.reset();
    }
    if (misspelt("reorder")) {
      reorder.reset();
    }
    if (const Field f = lookup("delay")) {
      delay = get_duration(f);
      c.delay.delay = delay.value_or(Duration{0});
    }
    if (const Field f = lookup("jitter")) {
      jitter = get_duration(f);
      c.delay.jitter = jitter.value_or(Duration{0});
    }
    const auto needs_jitter = [&](const Field& f) {
      if (jitter && jitter->count() == 0) {
        error(f, "needs " + prefix +
                     "jitter > 0: it shapes the jitter, and without jitter "
                     "it does nothing");
      }
    };
    if (const Field f = lookup("distribution")) {
      if (const auto d = get_choice(f, kDistributions)) {
        c.delay.distribution = *d == "normal"         ? DelayDistribution::normal
                               : *d == "pareto"       ? DelayDistribution::pareto
                               : *d == "paretonormal" ? DelayDistribution::paretonormal
                                                      : DelayDistribution::uniform;
        needs_jitter(f);
      }
    }
    if (const Field f = lookup("correlation")) {
      if (const auto v = get_probability(f)) {
        c.delay.correlation = *v;
        needs_jitter(f);
      }
    }
    if (const Field f = lookup("keep_order")) {
      c.delay.keep_order = get_bool(f).value_or(true);
    }
    if (const Field f = lookup("loss")) {
      c.loss = parse_loss(f);
    }
    if (const Field f = lookup("duplicate")) {
      c.duplicate = get_probability(f).value_or(0.0);
    }
    if (const Field f = lookup("reorder")) {
      reorder = get_probability(f);
      c.reorder = reorder.value_or(0.0);
      if (reorder && *reorder > 0.0 && delay && delay->count() == 0) {
        error(f, "needs " + prefix +
                     "delay > 0: a reordered packet skips the delay, so without a delay "
                     "nothing is reordered (as in netem)");
      }
    }
    if (const Field f = lookup("reorder_gap")) {
      if (const auto gap = get_integer(f, 1, std::numeric_limits<uint32_t>::max())) {
        c.reorder_gap = static_cast<uint32_t>(*gap);
        if (reorder && *reorder == 0.0) {
          error(f, "needs " + prefix + "reorder > 0");
        }
      }
    }
    if (const Field f = lookup("corrupt")) {
      c.corrupt = get_probability(f).value_or(0.0);
    }
    if (const Field f = lookup("rate")) {
      if (const auto* r = f.node->as_table()) {
        c.rate.trace = get_delivery_trace(*r, f);
      } else {
        c.rate.bits_per_second = get_rate(f).value_or(0);
      }
    }
    if (const Field f = field(t, prefix, "trace")) {
      if (trace == nullptr) {
        error(f,
              "a CSV trace runs beside the schedule on its clock: name it in the link's own "
              "[outbound] or [inbound], not in a step");
      } else if (const auto* s = f.node->as_string()) {
        if (const std::optional<std::string> text = read_trace(f, s->get())) {
          try {
            *trace = std::make_shared<const ConfigTrace>(parse_config_trace(*text, s->get()));
          } catch (const TraceError& e) {
            trace_errors(f, s->get(), e);
          }
        }
      } else {
        wrong_type(f, "a file name like \"train.csv\"");
      }
    }
    if (const Field f = lookup("queue_limit")) {
      c.queue = get_queue_limit(f).value_or(QueueLimit{});
    }
    if (const Field f = lookup("slot")) {
      if (const auto* slot = f.node->as_table()) {
        c.slot = get_slot(*slot, f);
      } else {
        wrong_type(f, "a table like { min = \"1ms\", max = \"5ms\", packets = 32 }");
      }
    }
    return c;
  }

  std::string file_;
  std::filesystem::path trace_dir_;  // where relative trace names are
  std::vector<Diagnostic> diagnostics_;
};

// A TOML basic string.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      std::array<char, 8> buf{};
      std::snprintf(buf.data(), buf.size(), "\\u%04X", u);
      out += buf.data();
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view distribution_name(DelayDistribution d) {
  switch (d) {
    case DelayDistribution::normal:
      return "normal";
    case DelayDistribution::pareto:
      return "pareto";
    case DelayDistribution::paretonormal:
      return "paretonormal";
    case DelayDistribution::uniform:
      break;
  }
  return "uniform";
}

std::string render_loss(const LossConfig& loss) {
  if (const auto* b = std::get_if<BernoulliLoss>(&loss)) {
    return toml_string(format_percentage(b->p));
  }
  if (const auto* ge = std::get_if<GilbertElliottLoss>(&loss)) {
    return "{ model = \"gilbert-elliott\", p = " + toml_string(format_percentage(ge->p)) +
           ", r = " + toml_string(format_percentage(ge->r)) +
           ", h = " + toml_string(format_percentage(ge->h)) +
           ", k = " + toml_string(format_percentage(ge->k)) + " }";
  }
  if (const auto* m = std::get_if<MarkovLoss>(&loss)) {
    return "{ model = \"markov\", p13 = " + toml_string(format_percentage(m->p13)) +
           ", p31 = " + toml_string(format_percentage(m->p31)) +
           ", p32 = " + toml_string(format_percentage(m->p32)) +
           ", p23 = " + toml_string(format_percentage(m->p23)) +
           ", p14 = " + toml_string(format_percentage(m->p14)) + " }";
  }
  return "\"0%\"";
}

void render_direction(std::ostringstream& out, std::string_view name, const DirectionConfig& c) {
  out << "\n[" << name << "]\n";
  out << "delay = " << toml_string(format_duration(c.delay.delay)) << "\n";
  out << "jitter = " << toml_string(format_duration(c.delay.jitter)) << "\n";
  if (c.delay.jitter.count() > 0) {
    out << "distribution = \"" << distribution_name(c.delay.distribution) << "\"\n";
    out << "correlation = " << toml_string(format_percentage(c.delay.correlation)) << "\n";
  } else {
    out << "# distribution and correlation apply only with jitter\n";
  }
  out << "keep_order = " << (c.delay.keep_order ? "true" : "false") << "\n";
  out << "loss = " << render_loss(c.loss) << "\n";
  out << "duplicate = " << toml_string(format_percentage(c.duplicate)) << "\n";
  out << "reorder = " << toml_string(format_percentage(c.reorder)) << "\n";
  if (c.reorder_gap > 0) {
    out << "reorder_gap = " << c.reorder_gap << "\n";
  } else {
    out << "# reorder_gap not set: any packet may be reordered\n";
  }
  out << "corrupt = " << toml_string(format_percentage(c.corrupt)) << "\n";
  if (c.rate.trace) {
    out << "rate = { trace = " << toml_string(c.rate.trace->source)
        << (c.rate.trace->loop ? "" : ", loop = false") << " }  # "
        << format_rate(static_cast<uint64_t>(c.rate.trace->mean_bits_per_second()))
        << " on average, over " << format_duration(c.rate.trace->period()) << "\n";
  } else if (c.rate.bits_per_second > 0) {
    out << "rate = " << toml_string(format_rate(c.rate.bits_per_second)) << "\n";
  } else {
    out << "# rate not set: no rate limit\n";
  }
  if (c.queue.bytes > 0) {
    out << "queue_limit = " << toml_string(format_size(c.queue.bytes)) << "\n";
    if (c.queue.packets > 0) {
      out << "# also limited to " << c.queue.packets << " packets\n";
    }
  } else if (c.queue.packets > 0) {
    out << "queue_limit = " << c.queue.packets << "\n";
  } else {
    out << "# queue_limit: none\n";
  }
  if (c.slot.enabled()) {
    out << "slot = { min = " << toml_string(format_duration(c.slot.min))
        << ", max = " << toml_string(format_duration(c.slot.max));
    if (c.slot.packets > 0) {
      out << ", packets = " << c.slot.packets;
    }
    if (c.slot.bytes > 0) {
      out << ", bytes = " << toml_string(format_size(c.slot.bytes));
    }
    out << " }\n";
  } else {
    out << "# slot not set: packets leave when their delay ends\n";
  }
}

}  // namespace

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::tcp:
      return "tcp";
    case Protocol::udp:
      return "udp";
    case Protocol::icmp:
      return "icmp";
    case Protocol::all:
      break;
  }
  return "all";
}

Profile parse_profile(std::string_view toml_text, std::string_view source_name) {
  return parse_profile(toml_text, source_name, trace_directory_of(source_name));
}

Profile parse_profile(std::string_view toml_text, std::string_view source_name,
                      const std::filesystem::path& trace_dir) {
  return Parser(std::string(source_name), trace_dir).parse(toml_text);
}

std::filesystem::path trace_directory_of(std::string_view source) {
  std::error_code ec;
  const std::filesystem::path file(source);
  if (source.empty() || !std::filesystem::is_regular_file(file, ec)) {
    return {};  // standard input, a request: the current directory
  }
  return file.parent_path();
}

Profile load_profile(const std::filesystem::path& file) {
  const std::string name = file.string();
  auto cannot_read = [&name](int error_number) {
    return ProfileError(
        {Diagnostic{name, 0, 0, std::string("cannot read: ") + std::strerror(error_number)}});
  };
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    throw cannot_read(EISDIR);
  }
  std::string text;
  if (const int failed = read_whole_file(file, text)) {
    throw cannot_read(failed);
  }
  return parse_profile(text, name);
}

namespace {

void render_match(std::ostringstream& out, std::string_view section, const Match& m) {
  out << "\n[" << section << "]\n";
  out << "protocol = \"" << to_string(m.protocol) << "\"\n";
  out << "ports = [";
  for (std::size_t i = 0; i < m.ports.size(); ++i) {
    out << (i > 0 ? ", " : "");
    if (m.ports[i].first == m.ports[i].last) {
      out << m.ports[i].first;
    } else {
      out << "\"" << m.ports[i].first << "-" << m.ports[i].last << "\"";
    }
  }
  out << "]" << (m.ports.empty() ? "  # any port" : "") << "\n";
  out << "hosts = [";
  for (std::size_t i = 0; i < m.hosts.size(); ++i) {
    out << (i > 0 ? ", " : "") << toml_string(m.hosts[i].text);
  }
  out << "]" << (m.hosts.empty() ? "  # any host" : "") << "\n";
  if (!m.interface.empty()) {
    out << "interface = " << toml_string(m.interface) << "\n";
  } else {
    out << "# interface not set: every interface\n";
  }
}

void render_directions(std::ostringstream& out, std::string_view prefix, const Link& link) {
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const std::string name = std::string(prefix) + std::string(to_string(d));
    const bool present = d == Direction::outbound ? link.has_outbound : link.has_inbound;
    if (present || !link.direction(d).is_passthrough()) {
      render_direction(out, name, link.direction(d));
      if (const auto& t = link.traces[index_of(d)]) {
        out << "trace = " << toml_string(t->source) << "  # " << t->rows.size() << " rows over "
            << format_duration(t->duration()) << "\n";
      }
    } else {
      out << "\n# no [" << name << "] section: packets pass unimpaired\n";
    }
  }
}

void render_schedule(std::ostringstream& out, std::string_view prefix, const Schedule& schedule) {
  for (const ScheduleStep& step : schedule.steps) {
    out << "\n[[" << prefix << "]]\n";
    out << "at = " << toml_string(format_duration(step.at)) << "\n";
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      if (!step.named[index_of(d)].empty()) {
        out << to_string(d) << " = " << step.named[index_of(d)] << "\n";
      }
    }
    if (step.outage) {
      const OutageStep& o = *step.outage;
      out << "outage = { duration = " << toml_string(format_duration(o.duration))
          << ", mode = \"" << (o.mode == Outage::hold ? "hold" : "drop") << "\"";
      if (o.directions[0] != o.directions[1]) {
        out << ", direction = \"" << (o.directions[0] ? "outbound" : "inbound") << "\"";
      }
      out << " }\n";
    }
  }
  if (schedule.repeat) {
    out << "\n[" << prefix << "_options]\n";
    out << "repeat = " << toml_string(format_duration(*schedule.repeat)) << "\n";
  }
}

// "# gets: ..." for links[i]: its match, less what earlier links it overlaps take first.
std::string traffic_comment(const std::vector<Link>& links, std::size_t i) {
  std::vector<std::string> before;
  for (std::size_t j = 0; j < i; ++j) {
    if (overlaps(links[j].match, links[i].match)) {
      before.push_back(in_quotes(links[j].name));
    }
  }
  std::string out = "# gets: " + describe(links[i].match);
  if (before.empty()) {
    return out + "\n";
  }
  out += ", except what " + std::string(before.size() == 1 ? "link " : "links ");
  for (std::size_t k = 0; k < before.size(); ++k) {
    out += k == 0 ? "" : (k + 1 == before.size() ? " and " : ", ");
    out += before[k];
  }
  return out + " (earlier) already takes\n";
}

}  // namespace

const Link& Profile::link(std::string_view wanted) const {
  for (const Link& l : links) {
    if (l.name == wanted) {
      return l;
    }
  }
  throw std::out_of_range("profile '" + name + "' has no link '" + std::string(wanted) + "'");
}

const Link& Profile::single_link() const {
  if (links.size() != 1) {
    throw std::logic_error("profile '" + name + "' has " + std::to_string(links.size()) +
                           " links where one was expected");
  }
  return links.front();
}

std::string render_profile(const Profile& profile) {
  std::ostringstream out;
  out << "# Effective profile: every default filled in.\n";
  out << "[profile]\n";
  out << "name = " << toml_string(profile.name) << "\n";
  out << "description = " << toml_string(profile.description) << "\n";
  if (profile.seed) {
    out << "seed = " << *profile.seed << "\n";
  } else {
    out << "# seed not set: a random seed is chosen and logged\n";
  }

  // One link called "default" is what the classic form means: shown as it is usually written.
  if (profile.links.size() == 1 && profile.links.front().name == kDefaultLinkName) {
    render_match(out, "match", profile.links.front().match);
    render_directions(out, "", profile.links.front());
    render_schedule(out, "schedule", profile.links.front().schedule);
    return out.str();
  }
  out << "\n# Links are tried in this order; a packet goes to the first whose match takes it,\n"
         "# and a packet no link takes passes unimpaired.\n";
  for (std::size_t i = 0; i < profile.links.size(); ++i) {
    const Link& link = profile.links[i];
    out << "\n[[link]]\n";
    out << "name = " << toml_string(link.name) << "\n";
    out << traffic_comment(profile.links, i);
    render_match(out, "link.match", link.match);
    render_directions(out, "link.", link);
    render_schedule(out, "link.schedule", link.schedule);
  }
  return out.str();
}

}  // namespace badlink
