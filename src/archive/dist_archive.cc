// Placeholder until the implementation lands.
#include "archive/dist_archive.h"
