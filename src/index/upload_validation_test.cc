#include "index/upload_validation.h"

#include <string>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/index_test_util.h"
#include "model/metadata.h"

namespace pydepot::index {
namespace {

using testing::MakeForm;
using testing::ReservedPhraseIn;
using ::testing::StartsWith;
using testing::TempDir;

constexpr char kWheel[] = "foo-1.0-py3-none-any.whl";
constexpr char kSdist[] = "foo-1.0.tar.gz";

// The form checks do not open the file, so any bytes do.
class UploadValidationTest : public ::testing::Test {
 protected:
  doc::UploadForm WheelForm(std::string filename = kWheel) {
    return MakeForm(dir_, std::move(filename), "wheel bytes", "foo", "1.0");
  }
  doc::UploadForm SdistForm(std::string filename = kSdist) {
    return MakeForm(dir_, std::move(filename), "sdist bytes", "foo", "1.0");
  }

  // Expects the form to be refused with exactly `message`, and records the case for UP-14.
  void ExpectRefused(const doc::UploadForm& form, const std::string& message,
                     bool allow_local_versions = true) {
    StatusOr<ValidatedUpload> result = ValidateUploadForm(form, allow_local_versions);
    ASSERT_FALSE(result.has_value()) << "accepted, expected: " << message;
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(result.error().message(), message);
    EXPECT_EQ(ReservedPhraseIn(result.error().message()), "") << result.error().message();
  }

  void ExpectAccepted(const doc::UploadForm& form, bool allow_local_versions = true) {
    StatusOr<ValidatedUpload> result = ValidateUploadForm(form, allow_local_versions);
    EXPECT_TRUE(result.has_value()) << result.error();
  }

  TempDir dir_;
};

constexpr char kMismatch[] =
    "The digest supplied does not match a digest calculated from the uploaded file.";
constexpr char kNameRule[] =
    "Start and end with a letter or numeral containing only ASCII numeric and '.', '_' and '-'.";

TEST_F(UploadValidationTest, AcceptsWheelAndSdist) {
  StatusOr<ValidatedUpload> wheel = ValidateUploadForm(WheelForm(), true);
  ASSERT_TRUE(wheel.has_value()) << wheel.error();
  EXPECT_EQ(wheel->project, "foo");
  EXPECT_EQ(wheel->python_version, "py3");
  EXPECT_EQ(wheel->filename.kind, model::DistKind::kWheel);

  StatusOr<ValidatedUpload> sdist = ValidateUploadForm(SdistForm(), true);
  ASSERT_TRUE(sdist.has_value()) << sdist.error();
  EXPECT_EQ(sdist->python_version, "source");
  EXPECT_EQ(sdist->filename.kind, model::DistKind::kSdist);
}

// --- UP-04: normalizing field values ---------------------------------------------------------

TEST_F(UploadValidationTest, Up04EmptyStringCountsAsAbsent) {
  doc::UploadForm form = WheelForm();
  form.fields["requires_python"] = {""};  // uv always sends it
  form.fields["protocol_version"] = {""};
  form.fields["md5_digest"] = {""};  // twine <= 6.1 sends every key
  ExpectAccepted(form);

  form.fields["name"] = {""};
  ExpectRefused(form, "'' is an invalid value for Name. Error: This field is required.");
}

TEST_F(UploadValidationTest, Up04UnknownCountsAsAbsent) {
  doc::UploadForm form = SdistForm();
  form.fields["license"] = {"UNKNOWN"};
  form.fields["pyversion"] = {"UNKNOWN"};  // distutils' placeholder: "source" is assumed
  ExpectAccepted(form);

  form.fields["version"] = {"UNKNOWN"};
  ExpectRefused(form, "'' is an invalid value for Version. Error: This field is required.");
}

TEST_F(UploadValidationTest, Up04RepeatedFieldTakesFirstPresentValue) {
  doc::UploadForm form = WheelForm();
  form.fields["name"] = {"", "UNKNOWN", "foo", "bar"};
  ExpectAccepted(form);
}

TEST_F(UploadValidationTest, Up04FieldSentAsFileIsRefused) {
  doc::UploadForm form = WheelForm();
  form.file_fields.push_back("description");
  ExpectRefused(form, "description: Should not be a tuple.");
}

// --- UP-05: form fields, one rule per test ----------------------------------------------------

TEST_F(UploadValidationTest, Up05ProtocolVersion) {
  doc::UploadForm form = WheelForm();
  form.fields.erase("protocol_version");
  ExpectAccepted(form);  // defaults to "1"
  form.fields["protocol_version"] = {"2"};
  ExpectRefused(form, "Unknown protocol version.");
}

TEST_F(UploadValidationTest, Up05ContentRequired) {
  doc::UploadForm form = WheelForm();
  form.content.reset();
  ExpectRefused(form, "Upload payload does not have a file.");
}

TEST_F(UploadValidationTest, Up05FiletypeKnown) {
  for (const char* filetype : {"", "bdist_egg", "bdist_wininst", "bdist_msi", "bdist_dmg",
                               "bdist_rpm", "bdist_dumb", "wheel"}) {
    SCOPED_TRACE(filetype);
    doc::UploadForm form = WheelForm();
    form.fields["filetype"] = {filetype};
    ExpectRefused(form, "Use a known file type.");
  }
}

TEST_F(UploadValidationTest, Up05SdistPyversionIsSource) {
  doc::UploadForm form = SdistForm();
  form.fields.erase("pyversion");
  StatusOr<ValidatedUpload> result = ValidateUploadForm(form, true);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->python_version, "source");

  form.fields["pyversion"] = {"py3"};
  ExpectRefused(form, "Use 'source' as Python version for an sdist.");
}

TEST_F(UploadValidationTest, Up05WheelNeedsPyversion) {
  doc::UploadForm form = WheelForm();
  form.fields.erase("pyversion");
  ExpectRefused(form, "Python version is required for binary distribution uploads.");
}

TEST_F(UploadValidationTest, Up05OptionalFieldsAreIgnored) {
  // PEP740-02 option (b): attestations are ignored, as are comments and unknown spellings
  // (Python 2.7 distutils' "protcol_version").
  doc::UploadForm form = WheelForm();
  form.fields["attestations"] = {"[{\"version\": 1}]"};
  form.fields["comment"] = {"built by CI"};
  form.fields["protcol_version"] = {"1"};
  form.fields["provides_extras"] = {"test"};
  ExpectAccepted(form);
}

TEST_F(UploadValidationTest, Up05MetadataVersion) {
  doc::UploadForm form = WheelForm();
  for (const char* ok : {"1.0", "1.2", "2.1", "2.5", "2.6"}) {
    form.fields["metadata_version"] = {ok};
    ExpectAccepted(form);
  }
  form.fields["metadata_version"] = {"3.0"};
  ExpectRefused(form, "'3.0' is an invalid value for Metadata-Version. Use 1.x or 2.x.");
}

TEST_F(UploadValidationTest, Up05NameRequired) {
  doc::UploadForm form = WheelForm();
  form.fields.erase("name");
  ExpectRefused(form, "'' is an invalid value for Name. Error: This field is required.");
}

TEST_F(UploadValidationTest, Up05NameValidity) {
  // SIMPLE-03: "\Z", not "$": a trailing newline is not a valid name.
  for (const char* name : {"-foo", "foo-", "foo\n", "f\xc3\xb6", "foo bar", "."}) {
    SCOPED_TRACE(name);
    doc::UploadForm form = WheelForm();
    form.fields["name"] = {name};
    ExpectRefused(form,
                  "'" + std::string(name) + "' is an invalid value for Name. Error: " + kNameRule);
  }
}

TEST_F(UploadValidationTest, QuotedValuesAreCutOnCharacterBoundaries) {
  doc::UploadForm form = WheelForm();
  std::string name = "x";
  for (int i = 0; i < 100; ++i) {
    name += "\xc3\xb6";  // U+00F6, two bytes
  }
  form.fields["name"] = {name};
  StatusOr<ValidatedUpload> result = ValidateUploadForm(form, true);
  ASSERT_FALSE(result.has_value());
  const std::string message = result.error().message();
  EXPECT_THAT(message, StartsWith("'x\xc3\xb6"));
  EXPECT_THAT(message, ::testing::HasSubstr("\xc3\xb6...' is an invalid value for Name."));
  EXPECT_LT(message.size(), 250U);
}

TEST_F(UploadValidationTest, Up05VersionRequired) {
  doc::UploadForm form = WheelForm();
  form.fields.erase("version");
  ExpectRefused(form, "'' is an invalid value for Version. Error: This field is required.");
}

TEST_F(UploadValidationTest, Up05VersionMustBePep440) {
  doc::UploadForm form = WheelForm();
  form.fields["version"] = {"1.0-foo-bar"};
  ExpectRefused(form,
                "'1.0-foo-bar' is an invalid value for Version. Error: Must be a valid PEP 440 "
                "version.");
}

TEST_F(UploadValidationTest, Up05LocalVersionsFollowPolicy) {
  doc::UploadForm form = MakeForm(dir_, "foo-1.0+cu118-py3-none-any.whl", "x", "foo", "1.0+cu118");
  ExpectAccepted(form, /*allow_local_versions=*/true);
  ExpectRefused(form, "The use of local versions in '1.0+cu118' is not allowed.",
                /*allow_local_versions=*/false);
}

TEST_F(UploadValidationTest, Up05AtLeastOneDigest) {
  doc::UploadForm form = WheelForm();
  form.fields.erase("md5_digest");
  form.fields.erase("sha256_digest");
  form.fields["blake2_256_digest"] = {""};
  ExpectRefused(form, "Include at least one message digest.");
}

TEST_F(UploadValidationTest, Up05AnyOneDigestIsEnough) {
  for (const char* keep : {"md5_digest", "sha256_digest", "blake2_256_digest"}) {
    SCOPED_TRACE(keep);
    doc::UploadForm form = WheelForm();
    for (const char* field : {"md5_digest", "sha256_digest", "blake2_256_digest"}) {
      if (std::string(field) != keep) {
        form.fields.erase(field);
      }
    }
    ExpectAccepted(form);
  }
}

TEST_F(UploadValidationTest, Up05Md5MustMatch) {
  doc::UploadForm form = WheelForm();
  form.fields["md5_digest"] = {ComputeDigests("other").md5};
  ExpectRefused(form, kMismatch);
}

TEST_F(UploadValidationTest, Up05Sha256MustMatch) {
  doc::UploadForm form = WheelForm();
  form.fields["sha256_digest"] = {ComputeDigests("other").sha256};
  ExpectRefused(form, kMismatch);
}

TEST_F(UploadValidationTest, Up05Blake2MustMatch) {
  doc::UploadForm form = WheelForm();
  form.fields["blake2_256_digest"] = {ComputeDigests("other").blake2b_256};
  ExpectRefused(form, kMismatch);
}

TEST_F(UploadValidationTest, Up05NonHexDigestIsAMismatch) {
  doc::UploadForm form = WheelForm();
  form.fields["sha256_digest"] = {std::string(64, 'z')};
  ExpectRefused(form, kMismatch);
}

TEST_F(UploadValidationTest, Up05DigestsCompareCaseInsensitively) {
  doc::UploadForm form = WheelForm();
  std::string upper = form.content->digests.sha256;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  form.fields["sha256_digest"] = {upper};
  ExpectAccepted(form);
}

TEST_F(UploadValidationTest, Up05DistutilsBlake2b512IsIgnored) {
  // Python 3 distutils sends a 512-bit BLAKE2b under blake2_256_digest, with md5 and sha256.
  doc::UploadForm form = WheelForm();
  form.fields["blake2_256_digest"] = {std::string(128, 'a')};
  ExpectAccepted(form);
  form.fields.erase("md5_digest");
  form.fields.erase("sha256_digest");
  ExpectRefused(form, kMismatch);
}

// --- FN-X01: extension matches filetype -------------------------------------------------------

TEST_F(UploadValidationTest, FnX01WheelExtensionAsSdist) {
  doc::UploadForm form = WheelForm("foo-1.0.whl");
  form.fields["filetype"] = {"sdist"};
  form.fields["pyversion"] = {"source"};
  ExpectRefused(form,
                "Invalid file extension: Extension .whl is invalid for filetype sdist. See "
                "https://www.python.org/dev/peps/pep-0527 for more information.");
}

TEST_F(UploadValidationTest, FnX01SdistExtensionAsWheel) {
  doc::UploadForm form = WheelForm(kSdist);
  form.fields["filetype"] = {"bdist_wheel"};
  form.fields["pyversion"] = {"py3"};
  ExpectRefused(form,
                "Invalid file extension: Extension .tar.gz is invalid for filetype bdist_wheel. "
                "See https://www.python.org/dev/peps/pep-0527 for more information.");
  form.content->filename = "foo-1.0.zip";
  ExpectRefused(form,
                "Invalid file extension: Extension .zip is invalid for filetype bdist_wheel. "
                "See https://www.python.org/dev/peps/pep-0527 for more information.");
}

TEST_F(UploadValidationTest, FnX01UnknownExtension) {
  // Case-sensitive, as PyPI's check is.
  for (const char* filename : {"foo-1.0.exe", "foo-1.0.egg", "foo-1.0.tar.bz2",
                               "foo-1.0-py3-none-any.WHL", "foo-1.0.TAR.GZ", "foo-1.0"}) {
    SCOPED_TRACE(filename);
    ExpectRefused(SdistForm(filename),
                  "Invalid file extension: Use .tar.gz, .whl or .zip extension. See "
                  "https://www.python.org/dev/peps/pep-0527 and "
                  "https://peps.python.org/pep-0715/ for more information");
  }
}

TEST_F(UploadValidationTest, FnX01ZipSdistIsAccepted) { ExpectAccepted(SdistForm("foo-1.0.zip")); }

// --- FN-X02: filename hygiene -----------------------------------------------------------------

TEST_F(UploadValidationTest, FnX02Slashes) {
  for (const char* filename : {"../foo-1.0.tar.gz", "a/foo-1.0.tar.gz", "..\\foo-1.0.tar.gz"}) {
    SCOPED_TRACE(filename);
    ExpectRefused(SdistForm(filename), "Cannot upload a file with '/' or '\\' in the name.");
  }
}

TEST_F(UploadValidationTest, FnX02ControlCharacters) {
  for (const std::string& filename :
       {std::string("foo-1.0\x01.tar.gz"), std::string("foo-1.0\x7f.tar.gz"),
        std::string("foo-1.0\n.tar.gz"), std::string("foo\0-1.0.tar.gz", 15)}) {
    SCOPED_TRACE(filename);
    ExpectRefused(SdistForm(filename), "Cannot upload a file with control characters in the name.");
  }
}

TEST_F(UploadValidationTest, FnX02TooLong) {
  // The longest filename the store can hold (its .metadata key must fit too) is accepted as far
  // as hygiene goes; one more character is refused up front, not by the store.
  const std::string name_part(235, 'a');
  const std::string longest = name_part + "-1.0.tar.gz";  // 246 bytes
  ASSERT_EQ(longest.size(), 246U);
  doc::UploadForm ok = MakeForm(dir_, longest, "x", name_part, "1.0");
  ExpectAccepted(ok);

  const std::string too_long = name_part + "a-1.0.tar.gz";
  doc::UploadForm form = MakeForm(dir_, too_long, "x", name_part + "a", "1.0");
  StatusOr<ValidatedUpload> result = ValidateUploadForm(form, true);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.error().message(), StartsWith("Filename is too long: '"));
}

TEST_F(UploadValidationTest, FnX02EmptyOrHiddenName) {
  ExpectRefused(SdistForm(""), "Upload payload does not have a file name.");
  ExpectRefused(SdistForm(".foo-1.0.tar.gz"), "Cannot upload a file whose name starts with '.'.");
}

TEST_F(UploadValidationTest, FnX02UnexpectedCharacters) {
  ExpectRefused(SdistForm("foo 1.0.tar.gz"),
                "Filename has a character that distribution filenames never contain: use "
                "letters, digits and . _ - + ! only.");
}

TEST_F(UploadValidationTest, ImagePartIsRefused) {
  doc::UploadForm form = WheelForm();
  form.content->content_type = "image/png";
  ExpectRefused(form, "Invalid distribution file.");
}

// --- Filename against form --------------------------------------------------------------------

TEST_F(UploadValidationTest, FilenameNameMustMatchForm) {
  doc::UploadForm form = MakeForm(dir_, kWheel, "x", "bar", "1.0");
  ExpectRefused(form, "Start filename for 'bar' with 'bar'.");
  ExpectRefused(MakeForm(dir_, kSdist, "x", "bar", "1.0"),
                "Invalid distribution filename: sdist filename 'foo-1.0.tar.gz' does not start "
                "with a name of project 'bar' followed by '-'");
}

TEST_F(UploadValidationTest, FilenameNameMayBeSpelledDifferently) {
  // twine sends safe_name ("foo-bar"), uv the metadata's Name ("Foo_Bar"): both normalize.
  ExpectAccepted(MakeForm(dir_, "foo_bar-1.0-py3-none-any.whl", "x", "Foo.Bar", "1.0"));
  ExpectAccepted(MakeForm(dir_, "foo_bar-1.0.tar.gz", "x", "foo-bar", "1.0"));
}

TEST_F(UploadValidationTest, FilenameVersionMustMatchForm) {
  ExpectRefused(MakeForm(dir_, kWheel, "x", "foo", "2.0"),
                "Version in filename should be '2.0' not '1.0'.");
  ExpectAccepted(MakeForm(dir_, kWheel, "x", "foo", "1.0.0"));  // PEP 440 equality
}

TEST_F(UploadValidationTest, BrokenWheelFilename) {
  StatusOr<ValidatedUpload> result =
      ValidateUploadForm(MakeForm(dir_, "foo-1.0-py3-none.whl", "x", "foo", "1.0"), true);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message(), StartsWith("Invalid distribution filename: "));
}

// --- Metadata against upload ------------------------------------------------------------------

TEST_F(UploadValidationTest, MetadataMustNameTheProjectAndVersion) {
  StatusOr<ValidatedUpload> upload = ValidateUploadForm(WheelForm(), true);
  ASSERT_TRUE(upload.has_value());
  auto check = [&](const std::string& text) {
    auto metadata = model::CoreMetadata::Parse(text);
    if (!metadata.has_value()) {
      ADD_FAILURE() << metadata.error();
      return metadata.error();
    }
    return CheckMetadataAgainstUpload(*metadata, *upload);
  };
  EXPECT_TRUE(check(testing::Metadata("Foo", "1.0.0")).ok());
  Status name = check(testing::Metadata("bar", "1.0"));
  EXPECT_EQ(name.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(name.message(),
            "The name in the file's metadata ('bar') does not match the project 'foo'.");
  Status version = check(testing::Metadata("foo", "1.1"));
  EXPECT_EQ(version.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(version.message(),
            "The version in the file's metadata ('1.1') does not match the filename's version "
            "'1.0'.");
}

// --- UP-14: no refusal reads as "already exists" ---------------------------------------------

TEST_F(UploadValidationTest, Up14EchoedValuesNeverCarryReservedPhrases) {
  // Values the messages quote back, chosen to contain the phrases clients match on: the
  // refusal must still not read as "already exists" to twine or poetry.
  std::vector<doc::UploadForm> forms;
  for (const std::string& phrase : testing::ReservedPhrases()) {
    doc::UploadForm bad_name = WheelForm();
    bad_name.fields["name"] = {"x " + phrase};
    forms.push_back(std::move(bad_name));
    doc::UploadForm bad_version = WheelForm();
    bad_version.fields["version"] = {"File " + phrase};
    forms.push_back(std::move(bad_version));
    doc::UploadForm bad_md = WheelForm();
    bad_md.fields["metadata_version"] = {"Version " + phrase};
    forms.push_back(std::move(bad_md));
    doc::UploadForm file_field = WheelForm();
    file_field.file_fields.push_back(phrase);
    forms.push_back(std::move(file_field));
  }
  for (const doc::UploadForm& form : forms) {
    StatusOr<ValidatedUpload> result = ValidateUploadForm(form, false);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ReservedPhraseIn(result.error().message()), "") << result.error().message();
  }
  StatusOr<ValidatedUpload> upload = ValidateUploadForm(WheelForm(), true);
  ASSERT_TRUE(upload.has_value());
  for (const std::string& phrase : testing::ReservedPhrases()) {
    for (const std::string& text :
         {testing::Metadata("foo " + phrase, "1.0"), testing::Metadata("foo", "1.0 " + phrase)}) {
      auto metadata = model::CoreMetadata::Parse(text);
      ASSERT_TRUE(metadata.has_value()) << metadata.error() << "\n" << text;
      Status status = CheckMetadataAgainstUpload(*metadata, *upload);
      EXPECT_FALSE(status.ok());
      EXPECT_EQ(ReservedPhraseIn(status.message()), "") << status.message();
    }
  }
}

TEST(WithoutReservedPhrasesTest, BreaksEveryPhrase) {
  for (const std::string& phrase : testing::ReservedPhrases()) {
    std::string upper = phrase;
    for (char& c : upper) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    std::string message = "a " + phrase;
    message += " b " + upper;
    EXPECT_EQ(ReservedPhraseIn(WithoutReservedPhrases(message)), "");
  }
  EXPECT_EQ(WithoutReservedPhrases("nothing to see"), "nothing to see");
}

}  // namespace
}  // namespace pydepot::index
