// re2oracle: a regex oracle with RE2 itself (Debian's libre2-dev), the engine
// Envoy compiles every `safe_regex` (google_re2) with, under Istio and Consul.
// Envoy builds each regex as re2::RE2(regex, re2::RE2::Quiet) -- the default
// options, errors not logged -- refuses it when !ok(), refuses it when
// ProgramSize() exceeds the runtime value re2.max_program_size.error_level,
// and matches with RE2::FullMatch. This program does the same.
//
// One question per line on stdin, one answer per line on stdout, every string
// hex-encoded (bytes; the empty string as `-`):
//
//   Q <pattern> <input> <input> ...
//
// is answered with `E <hex error message>` when RE2 refuses the pattern
// (a syntax error, or "pattern too large - compile failed" past RE2's own
// memory budget), or `M <program size> <b> <b> ...` with RE2::ProgramSize()
// and one digit per input: 1 when RE2::FullMatch matches the whole input.
// Inputs are any bytes; invalid UTF-8 matches no class and no `.`.
//
// `re2oracle --version` prints the libre2 version it was built against.

#include <re2/re2.h>

#include <iostream>
#include <vector>
#include <string>

#ifndef RE2ORACLE_LIBRE2_VERSION
#define RE2ORACLE_LIBRE2_VERSION "unknown"
#endif

namespace {

int unhexdigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unhex(const std::string& s, std::string* out) {
  out->clear();
  if (s == "-") return true;
  if (s.size() % 2 != 0) return false;
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = unhexdigit(s[i]), lo = unhexdigit(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

std::string hex(const std::string& s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string answer(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (start <= line.size()) {
    size_t sp = line.find(' ', start);
    if (sp == std::string::npos) sp = line.size();
    fields.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
  if (fields.size() < 2 || fields[0] != "Q")
    return "E " + hex("request must be Q <pattern> <input>...");
  std::string pattern;
  if (!unhex(fields[1], &pattern)) return "E " + hex("pattern is not hex-encoded");
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) return "E " + hex(re.error());
  std::string out = "M " + std::to_string(re.ProgramSize());
  std::string input;
  for (size_t i = 2; i < fields.size(); i++) {
    if (!unhex(fields[i], &input)) return "E " + hex("input is not hex-encoded");
    out += RE2::FullMatch(input, re) ? " 1" : " 0";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--version") {
    std::cout << RE2ORACLE_LIBRE2_VERSION << std::endl;
    return 0;
  }
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    std::cout << answer(line) << std::endl;  // endl flushes: one answer per question
  }
  return 0;
}
