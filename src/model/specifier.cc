// Placeholder until the implementation lands.
#include "model/specifier.h"
