// Core metadata (METADATA in wheels, PKG-INFO in sdists): RFC 822 style headers, Metadata-Version
// 1.0 to any 2.x. The raw bytes are kept exactly, since they are served byte for byte (PEP 658).
// Immutable after Parse; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pydepot::model {

class CoreMetadata {
 public:
  // Parses `raw` as Python's email.parser (compat32) would for metadata: "Name: value" lines,
  // continuation lines (leading space or tab) folded into the previous value, field names
  // case-insensitive, repeated fields kept in order, the body after the first empty line is the
  // description. CRLF and LF line ends are both accepted (a lone CR too, as Python does). The
  // header block ends at the first line that is not a header, as in Python; its malformed lines
  // are skipped the same way (a leading continuation, a line starting with ':', "From " lines).
  // Requires Metadata-Version (1.x or 2.x, any minor; 3.0 and above are rejected), Name and
  // Version, each present exactly once and not blank.
  // Returns kInvalidArgument with a message naming the problem otherwise, and also when the input
  // is not valid UTF-8 or contains a NUL byte anywhere (headers or body), or starts with a BOM.
  // Runs in time linear in the input size.
  static StatusOr<CoreMetadata> Parse(std::string raw);

  const std::string& raw() const { return raw_; }
  // (field name as written, value unfolded) in file order; the body is not included.
  // Unfolding: the first line's leading whitespace is dropped (as in compat32). For Description,
  // line breaks are kept and each continuation line loses a leading "       |" or 8 spaces;
  // other indentation is kept. Every other field becomes one line: each continuation line is
  // appended after a single space with its leading whitespace removed, and whitespace-only
  // continuation lines are dropped (PyPI's reading, via pkginfo).
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

  // The first value of `field` (case-insensitive), or "" when absent.
  std::string Get(std::string_view field) const;
  // Every value of a multiple-use field, in order.
  std::vector<std::string> GetAll(std::string_view field) const;
  bool Has(std::string_view field) const;

  // The required fields, with surrounding spaces and tabs removed (never empty once parsed).
  const std::string& metadata_version() const { return metadata_version_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  // The body when there is one (not empty; bytes as written), else the first Description header
  // with its 8-space / "       |" continuation indentation removed (as in fields()).
  const std::string& description() const { return description_; }

 private:
  std::string raw_;
  std::vector<std::pair<std::string, std::string>> fields_;
  std::string metadata_version_;
  std::string name_;
  std::string version_;
  std::string description_;
};

}  // namespace pydepot::model
