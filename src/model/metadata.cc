// Placeholder until the implementation lands.
#include "model/metadata.h"
