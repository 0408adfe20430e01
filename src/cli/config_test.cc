#include "cli/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/commands.h"
#include "http/tls_test_util.h"

namespace pydepot::cli {
namespace {

namespace fs = std::filesystem;

struct Output {
  int rc = 0;
  std::string out;
  std::string err;
};

Output RunCaptured(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  Output output;
  output.rc = Run(static_cast<int>(argv.size()), argv.data());
  output.out = testing::internal::GetCapturedStdout();
  output.err = testing::internal::GetCapturedStderr();
  return output;
}

// Sets environment variables for one test and puts the old values back.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    for (const auto& [name, old] : saved_) {
      if (old) {
        ::setenv(name.c_str(), old->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void Set(const std::string& name, const std::string& value) {
    Save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void Unset(const std::string& name) {
    Save(name);
    ::unsetenv(name.c_str());
  }

 private:
  void Save(const std::string& name) {
    if (saved_.count(name) == 0) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

class ConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("pydepot-config-test-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "store");
    // Whatever the environment running the tests has set must not leak in.
    for (const char* name :
         {"PYDEPOT_CONFIG", "PYDEPOT_STORAGE", "PYDEPOT_LISTEN", "PYDEPOT_PUBLIC_READ",
          "PYDEPOT_MAX_UPLOAD_SIZE", "PYDEPOT_TEMP_DIR", "PYDEPOT_TRUSTED_PROXY",
          "PYDEPOT_UPSTREAM", "PYDEPOT_UPSTREAM_USER", "PYDEPOT_UPSTREAM_PASSWORD",
          "PYDEPOT_CACHE_SIZE", "PYDEPOT_TLS_CERT", "PYDEPOT_TLS_KEY", "PORT"}) {
      env_.Unset(name);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WriteConfig(const std::string& text, const std::string& name = "pydepot.toml") {
    fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::string Store() const { return (dir_ / "store").string(); }

  // "listen = X  (SOURCE)" from config check's output, as "X  (SOURCE)".
  static std::string Line(const std::string& out, const std::string& key) {
    std::size_t at = out.find("  " + key + " ");
    if (at == std::string::npos) {
      return "";
    }
    std::size_t eq = out.find("= ", at);
    std::size_t end = out.find('\n', eq);
    return out.substr(eq + 2, end - eq - 2);
  }

  fs::path dir_;
  ScopedEnv env_;
};

TEST(EnvNameTest, UpperCaseWithUnderscores) {
  EXPECT_EQ(EnvName("--max-upload-size"), "PYDEPOT_MAX_UPLOAD_SIZE");
  EXPECT_EQ(EnvName("storage"), "PYDEPOT_STORAGE");
  EXPECT_EQ(EnvName("--public-read"), "PYDEPOT_PUBLIC_READ");
}

TEST_F(ConfigTest, PrecedenceFlagOverEnvOverFileOverDefault) {
  const std::string config = WriteConfig("storage = \"" + Store() +
                                         "\"\n"
                                         "listen = \"127.0.0.1:7001\"\n"
                                         "public-read = true\n"
                                         "max-upload-size = 1000\n"
                                         "cache-ttl-ms = 50\n");
  env_.Set("PYDEPOT_LISTEN", "127.0.0.1:7002");
  env_.Set("PYDEPOT_MAX_UPLOAD_SIZE", "2000");
  Output out =
      RunCaptured({"pydepot", "config", "check", "--config", config, "--listen", "127.0.0.1:7003"});
  EXPECT_EQ(out.rc, 0) << out.out << out.err;
  EXPECT_EQ(Line(out.out, "listen"), "127.0.0.1:7003  (flag)");
  EXPECT_EQ(Line(out.out, "max-upload-size"), "2000  (env PYDEPOT_MAX_UPLOAD_SIZE)");
  EXPECT_EQ(Line(out.out, "public-read"), "true  (file)");
  EXPECT_EQ(Line(out.out, "cache-ttl-ms"), "50  (file)");
  EXPECT_EQ(Line(out.out, "storage"), Store() + "  (file)");
  EXPECT_EQ(Line(out.out, "body-timeout"), "120  (default)");
  EXPECT_EQ(Line(out.out, "trusted-proxy"), "(none)  (default)");
  EXPECT_NE(out.out.find("configuration ok"), std::string::npos);

  // The config file may also come from PYDEPOT_CONFIG; the environment can turn a flag off.
  env_.Set("PYDEPOT_CONFIG", config);
  env_.Set("PYDEPOT_PUBLIC_READ", "false");
  out = RunCaptured({"pydepot", "config", "check"});
  EXPECT_EQ(out.rc, 0) << out.out << out.err;
  EXPECT_EQ(Line(out.out, "listen"), "127.0.0.1:7002  (env PYDEPOT_LISTEN)");
  EXPECT_EQ(Line(out.out, "public-read"), "false  (env PYDEPOT_PUBLIC_READ)");
}

// The values reach serve itself: the listen address is parsed before the storage is opened,
// so which error serve reports shows which layer won.
TEST_F(ConfigTest, ServeUsesTheLayersInOrder) {
  const std::string bad_listen = WriteConfig("listen = \"no-port-here\"\n");
  Output out = RunCaptured({"pydepot", "serve", "--config", bad_listen, "--storage", "nosuch://x"});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("--listen wants HOST:PORT"), std::string::npos) << out.err;

  env_.Set("PYDEPOT_LISTEN", "127.0.0.1:0");
  out = RunCaptured({"pydepot", "serve", "--config", bad_listen, "--storage", "nosuch://x"});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("unknown scheme"), std::string::npos) << out.err;

  env_.Set("PYDEPOT_LISTEN", "still-no-port");
  out = RunCaptured({"pydepot", "serve", "--config", bad_listen, "--listen", "127.0.0.1:0",
                     "--storage", "nosuch://x"});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("unknown scheme"), std::string::npos) << out.err;

  // --storage is required, but the environment or the file may give it.
  env_.Unset("PYDEPOT_LISTEN");
  env_.Set("PYDEPOT_STORAGE", "nosuch://from-env");
  out = RunCaptured({"pydepot", "serve", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("nosuch://from-env"), std::string::npos) << out.err;
  env_.Unset("PYDEPOT_STORAGE");
  out = RunCaptured({"pydepot", "serve", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("--storage is required (or PYDEPOT_STORAGE"), std::string::npos)
      << out.err;
}

TEST_F(ConfigTest, UnknownKeyIsRefusedNamingKeyAndFile) {
  const std::string config =
      WriteConfig("storage = \"" + Store() + "\"\n\nstorge = \"typo\"\n", "typo.toml");
  Output out = RunCaptured({"pydepot", "serve", "--config", config});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("config file " + config + ", line 3: storge: unknown key"),
            std::string::npos)
      << out.err;

  out = RunCaptured({"pydepot", "config", "check", "--config", config});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("storge: unknown key"), std::string::npos) << out.err;

  // Tables other than [serve] are unknown too; syntax errors name the line.
  out = RunCaptured(
      {"pydepot", "serve", "--config", WriteConfig("[server]\nlisten = \"x:1\"\n", "t.toml")});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("[server]: unknown table"), std::string::npos) << out.err;
  out = RunCaptured({"pydepot", "serve", "--config", WriteConfig("listen = = 3\n", "syntax.toml")});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("syntax.toml, line 1"), std::string::npos) << out.err;
  out = RunCaptured({"pydepot", "serve", "--config", (dir_ / "missing.toml").string()});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("missing.toml: cannot read it"), std::string::npos) << out.err;
}

TEST_F(ConfigTest, BadValuesAreRefusedNamingTheKey) {
  Output out =
      RunCaptured({"pydepot", "serve", "--config",
                   WriteConfig("storage = \"" + Store() + "\"\nmax-upload-size = \"lots\"\n")});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("max-upload-size = lots"), std::string::npos) << out.err;

  // A value outside the option's own range, and a flag that is not true/false.
  out = RunCaptured({"pydepot", "serve", "--config",
                     WriteConfig("storage = \"" + Store() + "\"\ncache-size = 0\n", "r.toml")});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("cache-size = 0"), std::string::npos) << out.err;
  out = RunCaptured(
      {"pydepot", "serve", "--config",
       WriteConfig("storage = \"" + Store() + "\"\npublic-read = \"yes\"\n", "b.toml")});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("public-read: true or false expected"), std::string::npos) << out.err;

  env_.Set("PYDEPOT_CACHE_SIZE", "zero");
  out = RunCaptured({"pydepot", "serve", "--storage", Store()});
  EXPECT_EQ(out.rc, 2);
  EXPECT_NE(out.err.find("PYDEPOT_CACHE_SIZE = zero"), std::string::npos) << out.err;
  out = RunCaptured({"pydepot", "config", "check", "--storage", Store()});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("cache-size: 'zero' (env PYDEPOT_CACHE_SIZE) is not valid"),
            std::string::npos)
      << out.err;
}

TEST_F(ConfigTest, ArraysAndTheServeTable) {
  const std::string config = WriteConfig("[serve]\nstorage = \"" + Store() +
                                         "\"\ntrusted-proxy = [\"10.0.0.1\", \"10.0.0.2\"]\n");
  Output out = RunCaptured({"pydepot", "config", "check", "--config", config});
  EXPECT_EQ(out.rc, 0) << out.err;
  EXPECT_EQ(Line(out.out, "trusted-proxy"), "10.0.0.1, 10.0.0.2  (file)");

  env_.Set("PYDEPOT_TRUSTED_PROXY", "10.0.0.3, 10.0.0.4");
  out = RunCaptured({"pydepot", "config", "check", "--config", config});
  EXPECT_EQ(Line(out.out, "trusted-proxy"), "10.0.0.3, 10.0.0.4  (env PYDEPOT_TRUSTED_PROXY)");
  out = RunCaptured({"pydepot", "config", "check", "--config", config, "--trusted-proxy",
                     "10.0.0.5", "--trusted-proxy", "10.0.0.6"});
  EXPECT_EQ(Line(out.out, "trusted-proxy"), "10.0.0.5, 10.0.0.6  (flag)");

  // An array where one value is wanted; a key both at the top level and in [serve].
  out = RunCaptured(
      {"pydepot", "config", "check", "--config",
       WriteConfig("storage = \"" + Store() + "\"\nlisten = [\"a:1\"]\n[serve]\nstorage = \"x\"\n",
                   "a.toml")});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("listen: takes one value, not an array"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("storage: set twice"), std::string::npos) << out.err;
}

TEST_F(ConfigTest, CheckReportsProblemsInPlainWords) {
  const fs::path not_a_dir = dir_ / "file";
  std::ofstream(not_a_dir) << "x";
  env_.Set("PYDEPOT_UPSTREAM_PASSWORD", "hunter2-secret");
  Output out = RunCaptured({"pydepot", "config", "check", "--storage", Store(), "--listen",
                            "localhost:99999", "--temp-dir", not_a_dir.string(), "--upstream",
                            "ftp://mirror.example/simple/", "--max-upload-size", "0"});
  EXPECT_EQ(out.rc, 1) << out.out;
  EXPECT_NE(out.err.find("listen: 'localhost:99999' (flag) has no valid port"), std::string::npos)
      << out.err;
  EXPECT_NE(out.err.find("temp-dir: " + not_a_dir.string() + " is not a directory"),
            std::string::npos)
      << out.err;
  EXPECT_NE(out.err.find("upstream: 'ftp://mirror.example/simple/' (flag) is not an http://"),
            std::string::npos)
      << out.err;
  EXPECT_NE(out.err.find("max-upload-size: 0 (flag) is out of range"), std::string::npos)
      << out.err;
  // One line per problem, and the secret never shown.
  EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 4) << out.err;
  EXPECT_EQ(out.out.find("hunter2"), std::string::npos);
  EXPECT_NE(out.out.find("PYDEPOT_UPSTREAM_PASSWORD = (set)"), std::string::npos) << out.out;

  // No storage anywhere; a storage URL of an unknown kind; usage errors exit 2.
  out = RunCaptured({"pydepot", "config", "check"});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("storage: not set"), std::string::npos) << out.err;
  out = RunCaptured({"pydepot", "config", "check", "--storage", "nosuch://bucket"});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("storage: cannot open nosuch://bucket"), std::string::npos) << out.err;
  EXPECT_EQ(RunCaptured({"pydepot", "config", "check", "--no-such-flag"}).rc, 2);
  EXPECT_EQ(RunCaptured({"pydepot", "config"}).rc, 2);
}

TEST_F(ConfigTest, CheckUsesPortLikeServe) {
  env_.Set("PORT", "9123");
  Output out = RunCaptured({"pydepot", "config", "check", "--storage", Store()});
  EXPECT_EQ(out.rc, 0) << out.err;
  EXPECT_NE(out.out.find("listening on 0.0.0.0:9123 (from PORT)"), std::string::npos) << out.out;
  // A storage directory that does not exist yet is fine when it can be created, and is not
  // created by the check.
  const fs::path later = dir_ / "later" / "store";
  out = RunCaptured({"pydepot", "config", "check", "--storage", later.string()});
  EXPECT_EQ(out.rc, 0) << out.err;
  EXPECT_FALSE(fs::exists(later));
}

TEST_F(ConfigTest, CheckReportsTlsProblemsInPlainWords) {
  const auto pair = http::testing::SelfSigned("pypi.test");
  const auto other = http::testing::SelfSigned("other");
  const auto expired = http::testing::SelfSigned("old", -7200, -3600);
  const std::string cert = WriteConfig(pair.cert_pem, "cert.pem");
  const std::string key = WriteConfig(pair.key_pem, "key.pem");
  const std::string other_key = WriteConfig(other.key_pem, "other-key.pem");
  const std::string old_cert = WriteConfig(expired.cert_pem, "old-cert.pem");
  const std::string old_key = WriteConfig(expired.key_pem, "old-key.pem");
  const std::string garbage = WriteConfig("not a certificate\n", "garbage.pem");
  const std::string missing = (dir_ / "missing.pem").string();
  auto check = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"pydepot", "config", "check", "--storage", Store()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCaptured(args);
  };

  // Both, from the file: fine, and the certificate is described.
  Output out = RunCaptured({"pydepot", "config", "check", "--config",
                            WriteConfig("storage = \"" + Store() + "\"\ntls-cert = \"" + cert +
                                        "\"\ntls-key = \"" + key + "\"\n")});
  EXPECT_EQ(out.rc, 0) << out.err;
  EXPECT_EQ(Line(out.out, "tls-cert"), cert + "  (file)");
  EXPECT_NE(out.out.find("TLS certificate: CN=pypi.test for 127.0.0.1, localhost; valid "),
            std::string::npos)
      << out.out;

  // Only one of the two, from a flag or the environment.
  out = check({"--tls-cert", cert});
  EXPECT_EQ(out.rc, 1);
  EXPECT_EQ(out.err,
            "tls-cert: set (flag) but tls-key is not: native TLS needs the certificate chain "
            "(tls-cert) and its private key (tls-key), or neither\n");
  env_.Set("PYDEPOT_TLS_KEY", key);
  out = check({});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("tls-key: set (env PYDEPOT_TLS_KEY) but tls-cert is not"),
            std::string::npos)
      << out.err;
  env_.Set("PYDEPOT_TLS_CERT", cert);
  EXPECT_EQ(check({}).rc, 0);
  env_.Unset("PYDEPOT_TLS_CERT");
  env_.Unset("PYDEPOT_TLS_KEY");

  // A missing file, a file that is not PEM, a key of another certificate, an expired one.
  out = check({"--tls-cert", missing, "--tls-key", key});
  EXPECT_EQ(out.rc, 1);
  EXPECT_EQ(out.err, "tls-cert " + missing + ": cannot read it: No such file or directory\n");
  out = check({"--tls-cert", garbage, "--tls-key", key});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("tls-cert " + garbage + ": no PEM certificate in it"), std::string::npos)
      << out.err;
  out = check({"--tls-cert", cert, "--tls-key", garbage});
  EXPECT_NE(out.err.find("tls-key " + garbage + ": no PEM private key in it"), std::string::npos)
      << out.err;
  out = check({"--tls-cert", cert, "--tls-key", other_key});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("tls-key " + other_key + " does not match the certificate in " + cert),
            std::string::npos)
      << out.err;
  out = check({"--tls-cert", old_cert, "--tls-key", old_key});
  EXPECT_EQ(out.rc, 1);
  EXPECT_NE(out.err.find("tls-cert " + old_cert + ": the certificate expired on "),
            std::string::npos)
      << out.err;
}

// serve checks the TLS files first: a wrong one stops it before the store is even opened.
TEST_F(ConfigTest, ServeRefusesBadTlsFilesBeforeAnythingElse) {
  const auto pair = http::testing::SelfSigned("pypi.test");
  const std::string cert = WriteConfig(pair.cert_pem, "cert.pem");
  const std::string other_key = WriteConfig(http::testing::SelfSigned("x").key_pem, "k.pem");
  Output out = RunCaptured({"pydepot", "serve", "--storage", "nosuch://x", "--listen",
                            "127.0.0.1:0", "--tls-cert", cert});
  EXPECT_EQ(out.rc, 1);
  EXPECT_EQ(out.err,
            "pydepot serve: --tls-cert is set but --tls-key is not: native TLS needs the "
            "certificate chain and its private key\n");
  env_.Set("PYDEPOT_TLS_KEY", other_key);
  out = RunCaptured({"pydepot", "serve", "--storage", "nosuch://x", "--listen", "127.0.0.1:0",
                     "--tls-cert", cert});
  EXPECT_EQ(out.rc, 1);
  EXPECT_EQ(out.err, "pydepot serve: tls-key " + other_key + " does not match the certificate in " +
                         cert + " (the key is not the one the certificate was issued for)\n");
}

}  // namespace
}  // namespace pydepot::cli
