// Placeholder until the implementation lands.
#include "model/version.h"
