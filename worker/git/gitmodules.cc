#include "worker/git/gitmodules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tempa::worker {
namespace {

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<SubmoduleEntry>> Run() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (absl::ascii_isspace(c)) {
        ++pos_;
      } else if (c == '#' || c == ';') {
        SkipLine();
      } else if (c == '[') {
        if (absl::Status s = Section(); !s.ok()) return s;
      } else if (absl::ascii_isalpha(c)) {
        if (absl::Status s = KeyValue(); !s.ok()) return s;
      } else {
        return Error("unexpected character");
      }
    }
    return std::move(entries_);
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(".gitmodules line ", line_, ": ", what));
  }

  void SkipLine() {
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
  }

  // [section], [section "subsection"] or the old [section.subsection].
  absl::Status Section() {
    ++pos_;  // '['
    std::string name;
    while (pos_ < text_.size() &&
           (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '-' || text_[pos_] == '.')) {
      name += absl::ascii_tolower(text_[pos_++]);
    }
    std::string subsection;
    bool has_subsection = false;
    if (pos_ < text_.size() && text_[pos_] == ' ') {
      while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected '\"' in section");
      ++pos_;
      has_subsection = true;
      while (true) {
        if (pos_ >= text_.size() || text_[pos_] == '\n') return Error("unterminated section");
        char c = text_[pos_++];
        if (c == '"') break;
        if (c == '\\') {
          if (pos_ >= text_.size() || text_[pos_] == '\n') return Error("bad escape in section");
          c = text_[pos_++];
        }
        subsection += c;
      }
    }
    if (pos_ >= text_.size() || text_[pos_] != ']') return Error("expected ']'");
    ++pos_;
    if (!has_subsection) {
      size_t dot = name.find('.');
      if (dot != std::string::npos) {
        subsection = name.substr(dot + 1);
        name.resize(dot);
        has_subsection = true;
      }
    }
    current_ = -1;
    if (name == "submodule" && has_subsection) {
      for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].name == subsection) current_ = static_cast<int>(i);
      }
      if (current_ < 0) {
        entries_.push_back(SubmoduleEntry{subsection, "", ""});
        current_ = static_cast<int>(entries_.size()) - 1;
      }
    }
    return absl::OkStatus();
  }

  absl::Status KeyValue() {
    std::string key;
    while (pos_ < text_.size() && (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '-')) {
      key += absl::ascii_tolower(text_[pos_++]);
    }
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    std::string value;
    if (pos_ < text_.size() && text_[pos_] == '=') {
      ++pos_;
      absl::Status s = Value(&value);
      if (!s.ok()) return s;
    } else if (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '#' &&
               text_[pos_] != ';' && text_[pos_] != '\r') {
      return Error("expected '=' after a key");
    }
    if (current_ >= 0) {
      if (key == "path") entries_[current_].path = value;
      if (key == "url") entries_[current_].url = value;
    }
    return absl::OkStatus();
  }

  // A value up to the end of the line: quotes, escapes, continuation lines, comments.
  absl::Status Value(std::string* out) {
    bool quoted = false;
    size_t trailing_space = 0;  // unquoted whitespace at the end, trimmed
    bool started = false;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') break;
      ++pos_;
      if (!quoted && (c == '#' || c == ';')) {
        SkipLine();
        break;
      }
      if (c == '"') {
        quoted = !quoted;
        trailing_space = 0;
        started = true;
        continue;
      }
      if (c == '\\') {
        if (pos_ >= text_.size()) return Error("bad escape at end of file");
        char e = text_[pos_++];
        if (e == '\n') {
          ++line_;
          continue;
        }
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'b':
            c = '\b';
            break;
          case '"':
            c = '"';
            break;
          case '\\':
            c = '\\';
            break;
          default:
            return Error("bad escape in value");
        }
        out->push_back(c);
        trailing_space = 0;
        started = true;
        continue;
      }
      if (!quoted && (c == ' ' || c == '\t' || c == '\r')) {
        if (!started) continue;
        out->push_back(c);
        ++trailing_space;
        continue;
      }
      out->push_back(c);
      trailing_space = 0;
      started = true;
    }
    if (quoted) return Error("unterminated quote in value");
    out->resize(out->size() - trailing_space);
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int current_ = -1;
  std::vector<SubmoduleEntry> entries_;
};

}  // namespace

absl::StatusOr<std::vector<SubmoduleEntry>> ParseGitmodules(absl::string_view text) {
  return Parser(text).Run();
}

}  // namespace tempa::worker
