#include "index/upload_validation.h"

#include <algorithm>
#include <cctype>

#include "base/hash.h"
#include "model/project_name.h"
#include "model/version.h"
#include "storage/keys.h"

namespace pydepot::index {
namespace {

// The longest filename the store can hold (its ".metadata" key must fit too), so that a long
// name is refused here with PyPI's message rather than later by the store.
constexpr std::size_t kMaxFilenameLength = storage::kMaxFilenameLength;

// Values quoted back in messages are cut to this many bytes.
constexpr std::size_t kMaxQuotedBytes = 100;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

Status CheckFilenameHygiene(std::string_view filename) {
  if (filename.empty()) {
    return InvalidArgumentError("Upload payload does not have a file name.");
  }
  if (filename.find('/') != std::string_view::npos ||
      filename.find('\\') != std::string_view::npos) {
    return InvalidArgumentError("Cannot upload a file with '/' or '\\' in the name.");
  }
  for (unsigned char c : filename) {
    if (c < 32 || c == 127) {
      return InvalidArgumentError("Cannot upload a file with control characters in the name.");
    }
  }
  for (unsigned char c : filename) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != '+' && c != '!') {
      return InvalidArgumentError(
          "Filename has a character that distribution filenames never contain: use letters, "
          "digits and . _ - + ! only.");
    }
  }
  if (filename.size() > kMaxFilenameLength) {
    return InvalidArgumentError("Filename is too long: '" + std::string(filename.substr(0, 64)) +
                                "...'");
  }
  if (filename == "." || filename == ".." || filename.front() == '.') {
    return InvalidArgumentError("Cannot upload a file whose name starts with '.'.");
  }
  return OkStatus();
}

// PEP 527: sdists are .tar.gz or .zip, wheels .whl; the check is case-sensitive like PyPI's.
Status CheckExtension(std::string_view filename, std::string_view filetype) {
  const bool is_wheel = EndsWith(filename, ".whl");
  const bool is_sdist = EndsWith(filename, ".tar.gz") || EndsWith(filename, ".zip");
  if (!is_wheel && !is_sdist) {
    return InvalidArgumentError(
        "Invalid file extension: Use .tar.gz, .whl or .zip extension. See "
        "https://www.python.org/dev/peps/pep-0527 and https://peps.python.org/pep-0715/ for "
        "more information");
  }
  if ((filetype == "sdist" && !is_sdist) || (filetype == "bdist_wheel" && !is_wheel)) {
    std::string ext = is_wheel ? ".whl" : (EndsWith(filename, ".zip") ? ".zip" : ".tar.gz");
    return InvalidArgumentError("Invalid file extension: Extension " + ext +
                                " is invalid for filetype " + std::string(filetype) +
                                ". See https://www.python.org/dev/peps/pep-0527 for more "
                                "information.");
  }
  return OkStatus();
}

Status CheckDigests(const doc::UploadForm& form, const Digests& actual) {
  const std::string md5 = Lower(form.Get("md5_digest"));
  const std::string sha256 = Lower(form.Get("sha256_digest"));
  std::string blake2 = Lower(form.Get("blake2_256_digest"));
  // Python 3's distutils `upload` sends a 512-bit BLAKE2b under this name. It always sends md5
  // and sha256 too, which are checked; the oversized value is not a blake2_256 digest at all.
  if (blake2.size() == 128 && (!md5.empty() || !sha256.empty())) {
    blake2.clear();
  }
  if (md5.empty() && sha256.empty() && blake2.empty()) {
    return InvalidArgumentError("Include at least one message digest.");
  }
  const auto differs = [](const std::string& sent, const std::string& computed) {
    return !sent.empty() && (!IsHex(sent) || sent != computed);
  };
  if (differs(md5, actual.md5) || differs(sha256, actual.sha256) ||
      differs(blake2, actual.blake2b_256)) {
    return InvalidArgumentError(
        "The digest supplied does not match a digest calculated from the uploaded file.");
  }
  return OkStatus();
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& tag : tags) {
    if (!out.empty()) {
      out += '.';
    }
    out += tag;
  }
  return out;
}

// A value the client sent, quoted for a message and cut short (never inside a UTF-8 sequence:
// messages also go into JSON bodies).
std::string Quoted(std::string_view value) {
  if (value.size() > kMaxQuotedBytes) {
    std::size_t end = kMaxQuotedBytes;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) {
      --end;
    }
    return "'" + std::string(value.substr(0, end)) + "...'";
  }
  return "'" + std::string(value) + "'";
}

// Metadata-Version must be 1.x or 2.x (STANDARDS MD-02).
Status CheckMetadataVersion(std::string_view value) {
  if (value.empty()) {
    return OkStatus();
  }
  if ((value.starts_with("1.") || value.starts_with("2.")) && value.size() > 2 &&
      std::all_of(value.begin() + 2, value.end(),
                  [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return OkStatus();
  }
  return InvalidArgumentError(Quoted(value) +
                              " is an invalid value for Metadata-Version. Use 1.x or 2.x.");
}

StatusOr<ValidatedUpload> ValidateForm(const doc::UploadForm& form, bool allow_local_versions) {
  const std::string protocol = form.Get("protocol_version");
  if (!protocol.empty() && protocol != "1") {
    return InvalidArgumentError("Unknown protocol version.");
  }
  if (!form.file_fields.empty()) {
    return InvalidArgumentError(form.file_fields.front().substr(0, kMaxQuotedBytes) +
                                ": Should not be a tuple.");
  }
  if (Status s = CheckMetadataVersion(form.Get("metadata_version")); !s.ok()) {
    return s;
  }
  const std::string name = form.Get("name");
  if (name.empty()) {
    return InvalidArgumentError("'' is an invalid value for Name. Error: This field is required.");
  }
  if (!model::IsValidProjectName(name)) {
    return InvalidArgumentError(
        Quoted(name) +
        " is an invalid value for Name. Error: Start and end with a letter or numeral "
        "containing only ASCII numeric and '.', '_' and '-'.");
  }
  const std::string version_text = form.Get("version");
  if (version_text.empty()) {
    return InvalidArgumentError(
        "'' is an invalid value for Version. Error: This field is required.");
  }
  auto version = model::Version::Parse(version_text);
  if (!version.has_value()) {
    return InvalidArgumentError(Quoted(version_text) +
                                " is an invalid value for Version. Error: Must be a valid "
                                "PEP 440 version.");
  }
  if (version->HasLocal() && !allow_local_versions) {
    return InvalidArgumentError("The use of local versions in " + Quoted(version_text) +
                                " is not allowed.");
  }
  const std::string filetype = form.Get("filetype");
  if (filetype != "sdist" && filetype != "bdist_wheel") {
    return InvalidArgumentError("Use a known file type.");
  }
  std::string pyversion = form.Get("pyversion");
  if (filetype == "sdist") {
    if (!pyversion.empty() && pyversion != "source") {
      return InvalidArgumentError("Use 'source' as Python version for an sdist.");
    }
    pyversion = "source";
  } else if (pyversion.empty()) {
    return InvalidArgumentError("Python version is required for binary distribution uploads.");
  }
  if (!form.content.has_value()) {
    return InvalidArgumentError("Upload payload does not have a file.");
  }
  const doc::UploadedFile& content = *form.content;
  if (Status s = CheckFilenameHygiene(content.filename); !s.ok()) {
    return s;
  }
  if (Status s = CheckExtension(content.filename, filetype); !s.ok()) {
    return s;
  }
  if (content.content_type.starts_with("image/")) {
    return InvalidArgumentError("Invalid distribution file.");
  }

  const std::string project = model::NormalizeProjectName(name);
  auto parsed = filetype == "bdist_wheel" ? model::ParseWheelFilename(content.filename)
                                          : model::ParseSdistFilename(content.filename, project);
  if (!parsed.has_value()) {
    return InvalidArgumentError("Invalid distribution filename: " + parsed.error().message());
  }
  if (parsed->project != project) {
    return InvalidArgumentError("Start filename for " + Quoted(name) + " with " + Quoted(project) +
                                ".");
  }
  if (!parsed->version.is_valid() || parsed->version != *version) {
    return InvalidArgumentError("Version in filename should be '" + version->Canonical() +
                                "' not '" + parsed->version_part + "'.");
  }
  if (Status s = CheckDigests(form, content.digests); !s.ok()) {
    return s;
  }
  ValidatedUpload upload;
  upload.project = project;
  upload.display_name = name;
  upload.python_version =
      filetype == "bdist_wheel" ? JoinTags(parsed->python_tags) : std::string("source");
  upload.filename = *std::move(parsed);
  return upload;
}

Status CheckMetadata(const model::CoreMetadata& metadata, const ValidatedUpload& upload) {
  if (Status s = CheckMetadataVersion(metadata.metadata_version()); !s.ok()) {
    return s;
  }
  if (model::NormalizeProjectName(metadata.name()) != upload.project) {
    return InvalidArgumentError("The name in the file's metadata (" + Quoted(metadata.name()) +
                                ") does not match the project '" + upload.project + "'.");
  }
  auto version = model::Version::Parse(metadata.version());
  if (!version.has_value() || *version != upload.filename.version) {
    return InvalidArgumentError(
        "The version in the file's metadata (" + Quoted(metadata.version()) +
        ") does not match the filename's version '" + upload.filename.version_part + "'.");
  }
  return OkStatus();
}

}  // namespace

StatusOr<ValidatedUpload> ValidateUploadForm(const doc::UploadForm& form,
                                             bool allow_local_versions) {
  StatusOr<ValidatedUpload> result = ValidateForm(form, allow_local_versions);
  if (!result.has_value()) {
    return Status(result.error().code(), WithoutReservedPhrases(result.error().message()));
  }
  return result;
}

Status CheckMetadataAgainstUpload(const model::CoreMetadata& metadata,
                                  const ValidatedUpload& upload) {
  Status status = CheckMetadata(metadata, upload);
  if (status.ok()) {
    return status;
  }
  return Status(status.code(), WithoutReservedPhrases(status.message()));
}

std::string WithoutReservedPhrases(std::string_view message) {
  static constexpr std::string_view kPhrases[] = {"already exist", "updating asset",
                                                  "already been taken", "overwrite artifact",
                                                  "was ever registered"};
  std::string out(message);
  const std::string lower = Lower(message);
  for (std::string_view phrase : kPhrases) {
    for (std::size_t pos = lower.find(phrase); pos != std::string::npos;
         pos = lower.find(phrase, pos + 1)) {
      // Every phrase has a space; a '_' in its place leaves the text readable.
      for (std::size_t i = pos; i < pos + phrase.size(); ++i) {
        if (out[i] == ' ') {
          out[i] = '_';
        }
      }
    }
  }
  return out;
}

doc::ReleaseInfo ReleaseInfoFromMetadata(const model::CoreMetadata& metadata,
                                         std::string canonical_version) {
  doc::ReleaseInfo info;
  info.version = std::move(canonical_version);
  info.metadata_version = metadata.metadata_version();
  info.summary = metadata.Get("Summary");
  info.description = metadata.description();
  info.description_content_type = metadata.Get("Description-Content-Type");
  info.author = metadata.Get("Author");
  info.author_email = metadata.Get("Author-email");
  info.maintainer = metadata.Get("Maintainer");
  info.maintainer_email = metadata.Get("Maintainer-email");
  info.license = metadata.Get("License");
  info.license_expression = metadata.Get("License-Expression");
  info.keywords = metadata.Get("Keywords");
  info.home_page = metadata.Get("Home-page");
  info.download_url = metadata.Get("Download-URL");
  info.requires_python = metadata.Get("Requires-Python");
  info.classifiers = metadata.GetAll("Classifier");
  info.requires_dist = metadata.GetAll("Requires-Dist");
  info.provides_extra = metadata.GetAll("Provides-Extra");
  info.project_urls = metadata.GetAll("Project-URL");
  info.platforms = metadata.GetAll("Platform");
  info.dynamic = metadata.GetAll("Dynamic");
  info.license_files = metadata.GetAll("License-File");
  return info;
}

}  // namespace pydepot::index
