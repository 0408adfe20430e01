// Placeholder until the implementation lands.
#include "model/filename.h"
