#include "model/metadata.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kMinimal[] = "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n";

CoreMetadata ParseOk(std::string text) {
  StatusOr<CoreMetadata> parsed = CoreMetadata::Parse(std::move(text));
  EXPECT_TRUE(parsed.has_value()) << (parsed.has_value() ? "" : parsed.error().ToString());
  return parsed.has_value() ? *std::move(parsed) : CoreMetadata();
}

Status ParseError(std::string text) {
  StatusOr<CoreMetadata> parsed = CoreMetadata::Parse(std::move(text));
  if (parsed.has_value()) {
    ADD_FAILURE() << "parsed without error";
    return OkStatus();
  }
  EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument);
  return parsed.error();
}

TEST(MetadataTest, Minimal) {
  const CoreMetadata md = ParseOk(kMinimal);
  EXPECT_EQ(md.metadata_version(), "2.1");
  EXPECT_EQ(md.name(), "foo");
  EXPECT_EQ(md.version(), "1.0");
  EXPECT_EQ(md.description(), "");
  EXPECT_EQ(md.raw(), kMinimal);
  EXPECT_THAT(md.fields(), ElementsAre(Pair("Metadata-Version", "2.1"), Pair("Name", "foo"),
                                       Pair("Version", "1.0")));
}

// MD-01's test: folded lines and repeated Classifier lines.
TEST(MetadataTest, FoldedLinesAndRepeatedClassifiers) {
  const CoreMetadata md = ParseOk(
      "Metadata-Version: 2.1\n"
      "Name: foo\n"
      "Version: 1.0\n"
      "Summary: a summary that\n"
      "  goes on\n"
      "\tand on\n"
      "Classifier: Programming Language :: Python\n"
      "Classifier: License :: OSI Approved :: MIT License\n"
      "Classifier: Topic :: Utilities\n");
  EXPECT_EQ(md.Get("Summary"), "a summary that goes on and on");
  EXPECT_THAT(md.GetAll("Classifier"),
              ElementsAre("Programming Language :: Python",
                          "License :: OSI Approved :: MIT License", "Topic :: Utilities"));
}

TEST(MetadataTest, FieldNamesAreCaseInsensitive) {
  const CoreMetadata md = ParseOk(
      "metadata-version: 2.1\nNAME: foo\nversion: 1.0\nrequires-DIST: bar\nRequires-Dist: baz\n");
  EXPECT_EQ(md.name(), "foo");
  EXPECT_EQ(md.version(), "1.0");
  EXPECT_EQ(md.Get("requires-dist"), "bar");
  EXPECT_THAT(md.GetAll("REQUIRES-DIST"), ElementsAre("bar", "baz"));
  EXPECT_TRUE(md.Has("Requires-dist"));
  EXPECT_FALSE(md.Has("Requires"));
  // Names are kept as written.
  EXPECT_EQ(md.fields()[3].first, "requires-DIST");
}

TEST(MetadataTest, AbsentFieldIsEmpty) {
  const CoreMetadata md = ParseOk(kMinimal);
  EXPECT_EQ(md.Get("Summary"), "");
  EXPECT_TRUE(md.GetAll("Classifier").empty());
  EXPECT_FALSE(md.Has("Summary"));
}

TEST(MetadataTest, MultipleUseFieldsKeepTheirOrder) {
  const CoreMetadata md = ParseOk(
      "Metadata-Version: 2.4\nName: foo\nVersion: 1.0\n"
      "Requires-Dist: b>=1\n"
      "Project-URL: Home, https://example.com\n"
      "Requires-Dist: a; extra == 'x'\n"
      "Provides-Extra: x\n"
      "License-File: LICENSE\n"
      "Dynamic: Requires-Dist\n"
      "Platform: any\n"
      "Project-URL: Source, https://example.com/src\n"
      "License-File: NOTICE\n"
      "Dynamic: Provides-Extra\n"
      "Platform: linux\n"
      "Provides-Extra: y\n");
  EXPECT_THAT(md.GetAll("Requires-Dist"), ElementsAre("b>=1", "a; extra == 'x'"));
  EXPECT_THAT(md.GetAll("Project-URL"),
              ElementsAre("Home, https://example.com", "Source, https://example.com/src"));
  EXPECT_THAT(md.GetAll("Provides-Extra"), ElementsAre("x", "y"));
  EXPECT_THAT(md.GetAll("License-File"), ElementsAre("LICENSE", "NOTICE"));
  EXPECT_THAT(md.GetAll("Dynamic"), ElementsAre("Requires-Dist", "Provides-Extra"));
  EXPECT_THAT(md.GetAll("Platform"), ElementsAre("any", "linux"));
  EXPECT_EQ(md.fields().size(), 15u);
}

TEST(MetadataTest, DescriptionFromBody) {
  const std::string text = std::string(kMinimal) +
                           "Description-Content-Type: text/markdown\n"
                           "\n"
                           "# Title\n"
                           "\n"
                           "    indented code\n"
                           "Name: not a header\n";
  const CoreMetadata md = ParseOk(text);
  EXPECT_EQ(md.description(), "# Title\n\n    indented code\nName: not a header\n");
  EXPECT_EQ(md.Get("Description-Content-Type"), "text/markdown");
  EXPECT_EQ(md.GetAll("Name").size(), 1u);
  EXPECT_EQ(md.raw(), text);
}

TEST(MetadataTest, DescriptionHeaderWithEightSpaces) {
  // What distutils and setuptools (rfc822_escape) wrote into PKG-INFO 1.x and 2.0 files.
  const CoreMetadata md = ParseOk(std::string(kMinimal) +
                                  "Description: Title\n"
                                  "        =====\n"
                                  "        \n"
                                  "        Some text.\n"
                                  "        \n"
                                  "            code block\n"
                                  "        \n"
                                  "Platform: UNKNOWN\n");
  EXPECT_EQ(md.description(), "Title\n=====\n\nSome text.\n\n    code block\n");
  EXPECT_EQ(md.Get("Description"), md.description());
  EXPECT_EQ(md.Get("Platform"), "UNKNOWN");
}

TEST(MetadataTest, DescriptionHeaderWithSevenSpacesAndPipe) {
  // The core metadata spec's escaping, which keeps empty and indented lines.
  const CoreMetadata md = ParseOk(std::string(kMinimal) +
                                  "Description: Title\r\n"
                                  "       |=====\r\n"
                                  "       |\r\n"
                                  "       |  indented\r\n");
  EXPECT_EQ(md.description(), "Title\r\n=====\r\n\r\n  indented");
}

TEST(MetadataTest, DescriptionHeaderStartingOnTheNextLine) {
  // compat32 keeps the line break after an empty first line.
  const CoreMetadata md = ParseOk(std::string(kMinimal) + "Description:\n        text\n");
  EXPECT_EQ(md.description(), "\ntext");
}

TEST(MetadataTest, DescriptionHeaderKeepsShortIndentation) {
  const CoreMetadata md = ParseOk(std::string(kMinimal) + "Description: a\n  b\n\tc\n");
  EXPECT_EQ(md.description(), "a\n  b\n\tc");
}

TEST(MetadataTest, BodyWinsOverDescriptionHeader) {
  const CoreMetadata md =
      ParseOk(std::string(kMinimal) + "Description: from the header\n\nfrom the body\n");
  EXPECT_EQ(md.description(), "from the body\n");
  EXPECT_EQ(md.Get("Description"), "from the header");
}

TEST(MetadataTest, EmptyBodyFallsBackToHeader) {
  const CoreMetadata md = ParseOk(std::string(kMinimal) + "Description: header\n\n");
  EXPECT_EQ(md.description(), "header");
}

TEST(MetadataTest, NoDescription) {
  EXPECT_EQ(ParseOk(std::string(kMinimal) + "\n").description(), "");
}

TEST(MetadataTest, CrlfLineEnds) {
  const std::string text =
      "Metadata-Version: 2.1\r\nName: foo\r\nVersion: 1.0\r\nSummary: a\r\n  b\r\n\r\nbody\r\n";
  const CoreMetadata md = ParseOk(text);
  EXPECT_EQ(md.name(), "foo");
  EXPECT_EQ(md.version(), "1.0");
  EXPECT_EQ(md.Get("Summary"), "a b");
  EXPECT_EQ(md.description(), "body\r\n");
  EXPECT_EQ(md.raw(), text);
}

TEST(MetadataTest, LoneCarriageReturnsEndLinesAsInPython) {
  const CoreMetadata md = ParseOk("Metadata-Version: 2.1\rName: foo\rVersion: 1.0\r\rbody");
  EXPECT_EQ(md.name(), "foo");
  EXPECT_EQ(md.description(), "body");
}

TEST(MetadataTest, NoFinalNewline) {
  const CoreMetadata md = ParseOk("Metadata-Version: 2.1\nName: foo\nVersion: 1.0");
  EXPECT_EQ(md.version(), "1.0");
}

TEST(MetadataTest, ValueWhitespace) {
  // compat32 strips spaces and tabs after the colon but keeps trailing ones; the required
  // fields are trimmed on both sides.
  const CoreMetadata md =
      ParseOk("Metadata-Version:2.1\nName:\t foo  \nVersion: 1.0\t\nSummary: x  \n");
  EXPECT_EQ(md.name(), "foo");
  EXPECT_EQ(md.version(), "1.0");
  EXPECT_EQ(md.metadata_version(), "2.1");
  EXPECT_EQ(md.Get("Name"), "foo  ");
  EXPECT_EQ(md.Get("Summary"), "x  ");
}

TEST(MetadataTest, EmptyValueAndColonsInValue) {
  const CoreMetadata md = ParseOk(std::string(kMinimal) +
                                  "Keywords:\n"
                                  "Home-page: https://example.com:8080/x\n");
  EXPECT_TRUE(md.Has("Keywords"));
  EXPECT_EQ(md.Get("Keywords"), "");
  EXPECT_EQ(md.Get("Home-page"), "https://example.com:8080/x");
}

TEST(MetadataTest, WhitespaceOnlyContinuationLinesVanish) {
  const CoreMetadata md = ParseOk(std::string(kMinimal) +
                                  "License: MIT\n"
                                  "        \n"
                                  "        Copyright 2020\n");
  EXPECT_EQ(md.Get("License"), "MIT Copyright 2020");
}

TEST(MetadataTest, NonAsciiValues) {
  const CoreMetadata md =
      ParseOk(std::string(kMinimal) + "Maintainer: Alex Gr\xc3\xb6nholm\nSummary: \xe2\x9c\x93\n");
  EXPECT_EQ(md.Get("Maintainer"), "Alex Gr\xc3\xb6nholm");
  EXPECT_EQ(md.Get("Summary"), "\xe2\x9c\x93");
}

// The header block ends, as in Python, at the first line that is not "name:" or a continuation;
// that line and the rest are the body (a MissingHeaderBodySeparatorDefect in Python).
TEST(MetadataTest, LineThatIsNotAHeaderStartsTheBody) {
  const CoreMetadata md = ParseOk(std::string(kMinimal) + "Bad Header: x\nSummary: late\n");
  EXPECT_FALSE(md.Has("Summary"));
  EXPECT_EQ(md.description(), "Bad Header: x\nSummary: late\n");
}

TEST(MetadataTest, RequiredFieldAfterABadLineIsMissing) {
  const Status s = ParseError("Metadata-Version: 2.1\nName foo\nName: foo\nVersion: 1.0\n");
  EXPECT_THAT(s.message(), HasSubstr("no Name"));
}

TEST(MetadataTest, MalformedLinesAreSkippedAsPythonDoes) {
  const CoreMetadata md = ParseOk(
      "  leading continuation\n"
      "Metadata-Version: 2.1\n"
      ": no name\n"
      "   continuation of nothing\n"
      "Name: foo\n"
      "Version: 1.0\n");
  EXPECT_THAT(md.fields(), ElementsAre(Pair("Metadata-Version", "2.1"), Pair("Name", "foo"),
                                       Pair("Version", "1.0")));
}

TEST(MetadataTest, FromLines) {
  // An mbox envelope line first is dropped; one in the middle is ignored; one last in the header
  // block is pushed back into the body.
  const CoreMetadata md = ParseOk(
      "From someone\n"
      "Metadata-Version: 2.1\n"
      "Name: foo\n"
      "From the middle\n"
      "Version: 1.0\n"
      "From the end\n"
      "\n"
      "body\n");
  EXPECT_THAT(md.fields(), ElementsAre(Pair("Metadata-Version", "2.1"), Pair("Name", "foo"),
                                       Pair("Version", "1.0")));
  EXPECT_EQ(md.description(), "From the end\nbody\n");
}

TEST(MetadataTest, FromLineWithoutBody) {
  const CoreMetadata md = ParseOk(std::string(kMinimal) + "From x\n");
  EXPECT_EQ(md.description(), "From x\n");
}

TEST(MetadataTest, FieldNameWithUnusualCharacters) {
  // headerRE allows any printable ASCII but ':' in a name.
  const CoreMetadata md = ParseOk(std::string(kMinimal) + "X-Weird_Name.1!: v\n");
  EXPECT_EQ(md.Get("x-weird_name.1!"), "v");
}

TEST(MetadataTest, AcceptedMetadataVersions) {
  for (const char* version :
       {"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.99", "2.0", " 2.1 "}) {
    SCOPED_TRACE(version);
    const CoreMetadata md =
        ParseOk(std::string("Metadata-Version: ") + version + "\nName: foo\nVersion: 1.0\n");
    EXPECT_EQ(md.name(), "foo");
  }
}

TEST(MetadataTest, RejectedMetadataVersions) {
  for (const char* version : {"3.0", "3.1", "10.0", "99999999999999999999999.0"}) {
    SCOPED_TRACE(version);
    const Status s =
        ParseError(std::string("Metadata-Version: ") + version + "\nName: foo\nVersion: 1.0\n");
    EXPECT_THAT(s.message(), HasSubstr("unsupported Metadata-Version"));
  }
  for (const char* version : {"2", "2.", ".1", "2.1.1", "two", "0.9", "2.1a", "-1.0"}) {
    SCOPED_TRACE(version);
    const Status s =
        ParseError(std::string("Metadata-Version: ") + version + "\nName: foo\nVersion: 1.0\n");
    EXPECT_THAT(s.message(), HasSubstr("invalid Metadata-Version"));
  }
}

TEST(MetadataTest, MissingRequiredFields) {
  EXPECT_THAT(ParseError("Name: foo\nVersion: 1.0\n").message(), HasSubstr("no Metadata-Version"));
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\nVersion: 1.0\n").message(), HasSubstr("no Name"));
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\nName: foo\n").message(), HasSubstr("no Version"));
  EXPECT_THAT(ParseError("").message(), HasSubstr("no Metadata-Version"));
  // Required fields only in the body do not count.
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\n\nName: foo\nVersion: 1.0\n").message(),
              HasSubstr("no Name"));
}

TEST(MetadataTest, EmptyRequiredFields) {
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\nName:  \nVersion: 1.0\n").message(),
              HasSubstr("empty Name"));
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\nName: foo\nVersion:\n").message(),
              HasSubstr("empty Version"));
}

TEST(MetadataTest, DuplicatedRequiredFields) {
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\nName: foo\nname: bar\nVersion: 1.0\n").message(),
              HasSubstr("more than one Name"));
  EXPECT_THAT(
      ParseError("Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nVersion: 2.0\n").message(),
      HasSubstr("more than one Version"));
  EXPECT_THAT(
      ParseError("Metadata-Version: 2.1\nMetadata-Version: 2.1\nName: foo\nVersion: 1\n").message(),
      HasSubstr("more than one Metadata-Version"));
}

TEST(MetadataTest, NulBytesAreRejected) {
  EXPECT_THAT(
      ParseError(std::string("Metadata-Version: 2.1\nName: f\0o\nVersion: 1.0\n", 45)).message(),
      HasSubstr("NUL byte in the headers"));
  EXPECT_THAT(ParseError(std::string(kMinimal) + "\nbody" + std::string(1, '\0')).message(),
              HasSubstr("NUL byte in the body"));
}

TEST(MetadataTest, InvalidUtf8IsRejected) {
  for (const std::string& bad : {
           std::string("\xff"),              // never valid
           std::string("\xc3"),              // truncated sequence
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xe0\x80\xaf"),      // overlong
           std::string("\xed\xa0\x80"),      // UTF-16 surrogate
           std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string("\x80"),              // lone continuation byte
           std::string("\xe9t\xe9"),         // Latin-1
       }) {
    SCOPED_TRACE(testing::PrintToString(bad));
    EXPECT_THAT(ParseError(std::string(kMinimal) + "Author: " + bad + "\n").message(),
                HasSubstr("not valid UTF-8"));
    EXPECT_THAT(ParseError(std::string(kMinimal) + "\n" + bad).message(),
                HasSubstr("not valid UTF-8"));
  }
  // The offset is reported.
  EXPECT_THAT(ParseError("Metadata-Version: 2.1\nName: \xff\n").message(), HasSubstr("offset 28"));
}

TEST(MetadataTest, ValidUtf8Boundaries) {
  const std::string text = std::string(kMinimal) +
                           "Author: \x7f \xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf "
                           "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\n";
  EXPECT_EQ(ParseOk(text).Get("Author"),
            "\x7f \xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf");
}

TEST(MetadataTest, ByteOrderMarkIsRejected) {
  EXPECT_THAT(ParseError(std::string("\xef\xbb\xbf") + kMinimal).message(),
              HasSubstr("byte order mark"));
}

TEST(MetadataTest, RawKeepsExactBytes) {
  const std::string text = "Metadata-Version: 2.1\r\nName:   foo\nVersion: 1.0\r\n\r\n\xc3\xa9\r";
  EXPECT_EQ(ParseOk(text).raw(), text);
}

TEST(MetadataTest, CopiesAreIndependent) {
  CoreMetadata a = ParseOk(std::string(kMinimal) + "Summary: s\n");
  const CoreMetadata b = a;
  a = ParseOk("Metadata-Version: 1.0\nName: other\nVersion: 2\n");
  EXPECT_EQ(b.name(), "foo");
  EXPECT_EQ(b.Get("Summary"), "s");
  EXPECT_EQ(a.name(), "other");
}

TEST(MetadataTest, LargeInputsParseInLinearTime) {
  // Quadratic behaviour would make these take minutes.
  std::string many_fields(kMinimal);
  for (int i = 0; i < 50000; ++i) {
    many_fields += "Classifier: Topic :: Utilities\n";
  }
  EXPECT_EQ(ParseOk(many_fields).GetAll("Classifier").size(), 50000u);

  std::string long_fold = std::string(kMinimal) + "Description: start\n";
  for (int i = 0; i < 50000; ++i) {
    long_fold += "        line\n";
  }
  EXPECT_EQ(ParseOk(long_fold).description().size(), 5u + 50000u * 5u);

  std::string one_long_line = std::string(kMinimal) + "Summary: " + std::string(2 << 20, 'x');
  EXPECT_EQ(ParseOk(one_long_line).Get("Summary").size(), std::size_t{2} << 20);

  std::string many_breaks = std::string(kMinimal) + "\n" + std::string(1 << 20, '\n');
  EXPECT_EQ(ParseOk(many_breaks).description().size(), std::size_t{1} << 20);
}

TEST(MetadataTest, NeverCrashesOnOddInputs) {
  const std::vector<std::string> inputs = {
      "",
      "\n",
      "\r",
      "\r\n",
      ":",
      "::",
      " ",
      "\t",
      "From ",
      "From x",
      "a:",
      "\n\n\n",
      "Name",
      "Name:",
      "Name:\n ",
      "Name:\n \n \n",
      std::string(1000, ':'),
      std::string(1000, ' '),
      std::string(1000, '\r'),
      "x:\r\r\n\n\r",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(testing::PrintToString(input));
    StatusOr<CoreMetadata> parsed = CoreMetadata::Parse(input);
    EXPECT_FALSE(parsed.has_value());
  }
  // Every byte value at every position of a small valid file.
  const std::string base = kMinimal;
  for (std::size_t pos = 0; pos < base.size(); ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string mutated = base;
      mutated[pos] = static_cast<char>(byte);
      StatusOr<CoreMetadata> parsed = CoreMetadata::Parse(mutated);
      if (parsed.has_value()) {
        EXPECT_EQ(parsed->raw(), mutated);
        EXPECT_FALSE(parsed->name().empty());
      }
    }
  }
}

// The compat32 reference behaviour, checked with Python 3.11:
//   email.message_from_string(text).items() / .get_payload()
TEST(MetadataTest, MatchesPythonCompat32OnAMixedFile) {
  const std::string text =
      "Metadata-Version: 2.1\n"
      "Name: pip\n"
      "Version: 23.0.1\n"
      "Summary: The PyPA recommended tool for installing Python packages.\n"
      "Home-page: https://pip.pypa.io/\n"
      "Project-URL: Documentation, https://pip.pypa.io\n"
      "Project-URL: Source, https://github.com/pypa/pip\n"
      "Classifier: Development Status :: 5 - Production/Stable\n"
      "Requires-Python: >=3.7\n"
      "License-File: LICENSE.txt\n"
      "\n"
      "pip - The Python Package Installer\n"
      "==================================\n";
  const CoreMetadata md = ParseOk(text);
  EXPECT_EQ(md.fields().size(), 10u);
  EXPECT_EQ(md.Get("Requires-Python"), ">=3.7");
  EXPECT_THAT(md.GetAll("Project-URL"), ElementsAre("Documentation, https://pip.pypa.io",
                                                    "Source, https://github.com/pypa/pip"));
  EXPECT_EQ(md.description(),
            "pip - The Python Package Installer\n==================================\n");
}

}  // namespace
}  // namespace pydepot::model
