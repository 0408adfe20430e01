#include "doc/upload_form.h"

#include "gtest/gtest.h"

namespace pydepot::doc {
namespace {

TEST(UploadFormTest, GetSkipsEmptyAndUnknown) {
  UploadForm form;
  form.fields["license"] = {"UNKNOWN"};
  form.fields["requires_python"] = {""};
  form.fields["summary"] = {"", "UNKNOWN", "A summary", "second"};
  form.fields["name"] = {"foo"};
  EXPECT_EQ(form.Get("name"), "foo");
  EXPECT_EQ(form.Get("summary"), "A summary");
  EXPECT_EQ(form.Get("license"), "");
  EXPECT_EQ(form.Get("requires_python"), "");
  EXPECT_EQ(form.Get("missing"), "");
}

TEST(UploadFormTest, UnknownIsCaseSensitive) {
  UploadForm form;
  form.fields["keywords"] = {"unknown"};
  EXPECT_EQ(form.Get("keywords"), "unknown");
}

TEST(UploadFormTest, GetAllKeepsOrderAndDropsAbsentValues) {
  UploadForm form;
  form.fields["classifiers"] = {"B :: x", "", "A :: y", "UNKNOWN", "B :: x"};
  EXPECT_EQ(form.GetAll("classifiers"), (std::vector<std::string>{"B :: x", "A :: y", "B :: x"}));
  EXPECT_TRUE(form.GetAll("requires_dist").empty());
  form.fields["platform"] = {"UNKNOWN"};
  EXPECT_TRUE(form.GetAll("platform").empty());
}

}  // namespace
}  // namespace pydepot::doc
