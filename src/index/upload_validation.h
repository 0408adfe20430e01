// The checks an upload passes before anything is stored (STANDARDS §11, PyPI's order): the form
// fields, filename hygiene, extension against filetype, the filename against the form, the
// digests, and then the archive's own metadata against both. Pure functions; thread-safe.
// Every error is kInvalidArgument with a message fit for an HTTP reason phrase, and none
// contains the phrases clients read as "already exists" (STANDARDS UP-14).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "doc/project.h"
#include "doc/upload_form.h"
#include "model/filename.h"
#include "model/metadata.h"

namespace pydepot::index {

struct ValidatedUpload {
  std::string project;       // normalized name
  std::string display_name;  // the name as the metadata (or form) spells it
  model::DistFilename filename;
  std::string python_version;  // "source" for sdists, the wheel's python tags
};

// Checks the form and the uploaded file's name and digests. REQUIRES nothing of the form: a
// missing content part is an error like any other.
StatusOr<ValidatedUpload> ValidateUploadForm(const doc::UploadForm& form,
                                             bool allow_local_versions);

// Checks the archive's METADATA / PKG-INFO against the validated upload: same normalized name,
// same version (PEP 440 equality), supported Metadata-Version.
Status CheckMetadataAgainstUpload(const model::CoreMetadata& metadata,
                                  const ValidatedUpload& upload);

// The release fields of the index document, from a file's core metadata.
doc::ReleaseInfo ReleaseInfoFromMetadata(const model::CoreMetadata& metadata,
                                         std::string canonical_version);

// `message` with every phrase that clients read as "the file already exists" ("already exist",
// "updating asset", "already been taken", "overwrite artifact") or as "register first" ("was
// ever registered") broken up, matched case-insensitively (STANDARDS UP-14, UP-02). Messages
// quote values the client sent (a version, a name from the archive), so every refusal other
// than the duplicate-file one goes through this before it is sent.
std::string WithoutReservedPhrases(std::string_view message);

}  // namespace pydepot::index
