// find_leftovers: a small reader of the iptables-save format (*table, :chain, -A rule, COMMIT).
#include "divert/linux/leftovers.hh"

#include <charconv>
#include <optional>

namespace badlink {

namespace {

// The pid in "BADLINK-<pid>-OUT" / "BADLINK-<pid>-IN" (and their "-B" generation); nullopt
// for any other name.
std::optional<int> owner_of(std::string_view chain) {
  if (!chain.starts_with(kChainPrefix)) {
    return std::nullopt;
  }
  chain.remove_prefix(kChainPrefix.size());
  int pid = 0;
  const auto [ptr, ec] = std::from_chars(chain.data(), chain.data() + chain.size(), pid);
  if (ec != std::errc{} || pid <= 0) {
    return std::nullopt;
  }
  const std::string_view rest(ptr, static_cast<size_t>(chain.data() + chain.size() - ptr));
  if (rest != "-OUT" && rest != "-IN" && rest != "-OUT-B" && rest != "-IN-B") {
    return std::nullopt;
  }
  return pid;
}

Leftover& entry(std::vector<Leftover>& all, const std::string& table, int pid) {
  for (Leftover& l : all) {
    if (l.table == table && l.pid == pid) {
      return l;
    }
  }
  all.push_back(Leftover{table, pid, {}, {}});
  return all.back();
}

}  // namespace

std::vector<std::string> split_rule_line(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
      ++i;
    }
    if (i >= line.size()) {
      break;
    }
    std::string word;
    bool quoted = false;
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '"') {
        quoted = !quoted;
      } else if (c == '\\' && quoted && i + 1 < line.size()) {
        word += line[++i];
      } else if ((c == ' ' || c == '\t') && !quoted) {
        break;
      } else {
        word += c;
      }
    }
    out.push_back(std::move(word));
  }
  return out;
}

std::vector<Leftover> find_leftovers(std::string_view save_output) {
  std::vector<Leftover> all;
  std::string table;
  while (!save_output.empty()) {
    const size_t eol = std::min(save_output.find('\n'), save_output.size());
    std::string_view line = save_output.substr(0, eol);
    save_output.remove_prefix(std::min(eol + 1, save_output.size()));
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.starts_with("*")) {
      table = std::string(line.substr(1));
    } else if (line.starts_with(":")) {
      const std::string_view name = line.substr(1, line.find(' ') - 1);
      if (const auto pid = owner_of(name)) {
        entry(all, table, *pid).chains.emplace_back(name);
      }
    } else if (line.starts_with("-A ")) {
      std::vector<std::string> words = split_rule_line(line);
      if (words.size() < 2 || owner_of(words[1])) {
        continue;  // rules inside our chains go with the chains
      }
      for (size_t i = 2; i + 1 < words.size(); ++i) {
        if (words[i] == "-j" || words[i] == "-g") {
          if (const auto pid = owner_of(words[i + 1])) {
            RuleSpec jump{words[1], {words.begin() + 2, words.end()}};
            entry(all, table, *pid).jumps.push_back(std::move(jump));
          }
        }
      }
    }
  }
  return all;
}

}  // namespace badlink
