// Configuration of `pydepot serve` besides its flags: environment variables and a TOML file,
// and `pydepot config check`. Precedence, highest first: flag, environment, file, default
// (docs/deploy.md, "Configuration").
//
// Every option of `serve` is covered, whenever it was declared: its environment variable is
// PYDEPOT_ and the flag's name in upper case with dashes as underscores (--max-upload-size:
// PYDEPOT_MAX_UPLOAD_SIZE), its key in the file is the flag's name without the dashes
// (max-upload-size = 1073741824), at the top level or in a [serve] table.
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}  // namespace CLI

namespace pydepot::cli {

// "--max-upload-size" or "max-upload-size" -> "PYDEPOT_MAX_UPLOAD_SIZE".
std::string EnvName(std::string_view flag);

// Adds --config FILE (or PYDEPOT_CONFIG) to `serve` and gives every option declared on it so far
// an environment variable and a key in that file. Call once, after the last option of serve.
// Options that are required() become required "somewhere": a flag, the environment or the
// file. A bad value, an unknown key or an unreadable file is a usage error naming the key and
// where it came from.
void AddServeConfig(CLI::App& serve);

// `pydepot config check [--config FILE] [any serve flag...]`: prints every setting serve would
// use with where it came from, then checks them (the listen address, the store reachable, the
// temp dir writable, the upstream URL, the TLS certificate and key, ranges). Exit 0: fine; 1: one
// line per problem on stderr; 2: usage error. Register after `serve` (it reads serve's options).
void AddConfigCommand(CLI::App& app, int& rc);

}  // namespace pydepot::cli
