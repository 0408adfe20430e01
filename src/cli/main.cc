// The pydepot binary: every command goes through cli::Run.
#include "cli/commands.h"

int main(int argc, char** argv) { return pydepot::cli::Run(argc, argv); }
