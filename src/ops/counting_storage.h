// A Storage decorator that counts calls and errors per operation into the metrics registry
// (pydepot_storage_calls_total, pydepot_storage_errors_total). The server wraps the store it
// opened in one, so every module's store traffic is counted. Thread-safe when the target is.
#pragma once

#include <memory>

#include "ops/metrics.h"
#include "storage/storage.h"

namespace pydepot::ops {

// Errors are the failures an operator should see: the expected answers of a healthy store
// (kNotFound, kAlreadyExists of a create-only write, kFailedPrecondition of a compare-and-swap,
// kUnimplemented of an optional capability) are counted as calls only.
bool IsStorageError(const Status& status);

// `metrics`: the registry to count into (Metrics::Global() in the server); must outlive it.
std::unique_ptr<storage::Storage> NewCountingStorage(std::unique_ptr<storage::Storage> target,
                                                     Metrics& metrics);

}  // namespace pydepot::ops
