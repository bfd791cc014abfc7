// Peer processes for `tide bench ... --peers`: see peers.hpp. The child gets two pipes (requests
// in, replies out) and a file for its stderr; when it fails, its exit status and what it wrote to
// stderr since the last request are quoted.
#include "peers.hpp"
#include "tide/core/error.hpp"
#include <fmt/format.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace tide::cli {
namespace fs = std::filesystem;
namespace {

// The repository the running executable was built in: build/tools/tide -> ../..; "" if unknown.
fs::path repository_of_executable() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (fs::exists(p / "bench" / "peers" / "peer_protocol.py")) return p;
  return {};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string peer_python(const PeerOptions& options) {
  if (!options.python.empty()) return options.python;
  if (const char* env = std::getenv("TIDE_PEERS_PYTHON"); env && *env) return env;
  const fs::path repo = repository_of_executable();
  if (!repo.empty() && fs::exists(repo / ".venv" / "bin" / "python")) return (repo / ".venv" / "bin" / "python").string();
  return "python3";
}

std::vector<std::string> python_command(const std::string& value) {
  std::error_code ec;
  if (fs::exists(value, ec)) return {value};
  std::vector<std::string> words;
  std::istringstream in(value);
  for (std::string word; in >> word;) words.push_back(word);
  if (words.empty()) words.push_back(value);  // blank: one word, which then fails to start, named as given
  return words;
}

std::string shell_line(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& word : words) {
    line += line.empty() ? "'" : " '";
    for (char c : word) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += "'";
  }
  return line;
}

namespace {
// Where peer_python's answer came from, for the messages of a peer that did not start.
std::string python_origin(const PeerOptions& options) {
  if (!options.python.empty()) return "given by --python";
  if (const char* env = std::getenv("TIDE_PEERS_PYTHON"); env && *env) return "from $TIDE_PEERS_PYTHON";
  const fs::path repo = repository_of_executable();
  if (!repo.empty() && fs::exists(repo / ".venv" / "bin" / "python")) return "the default venv " + (repo / ".venv").string();
  return fmt::format("python3 on PATH: no --python, no $TIDE_PEERS_PYTHON, and no {}/.venv; bench/peers/setup.sh makes the venv, "
                     "or pass --python VENV/bin/python",
                     repo.empty() ? std::string("<repository>") : repo.string());
}
}  // namespace

std::string peer_dir(const PeerOptions& options) {
  if (!options.dir.empty()) return options.dir;
  const fs::path repo = repository_of_executable();
  return repo.empty() ? "bench/peers" : (repo / "bench" / "peers").string();
}

double PeerWorkload::figure(const std::string& key) const {
  for (const nlohmann::json* j : {static_cast<const nlohmann::json*>(last.get()), &first})
    if (j && j->contains(key) && (*j)[key].is_number()) return (*j)[key].get<double>();
  return NAN;
}

Peer::Peer(const PeerOptions& options, const std::string& script, const std::vector<std::string>& args)
    : timeout_(options.timeout_seconds) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead peer must be an error reply, not the end of tide
  const std::string path = (fs::path(peer_dir(options)) / script).string();
  if (!fs::exists(path)) {
    why_ = path + " not found (--peers-dir names the directory of the peer scripts)";
    return;
  }
  char stderr_template[] = "/tmp/tide-peer-stderr-XXXXXX";
  // close-on-exec everywhere: a second peer must not inherit the first one's pipes (posix_spawn's
  // dup2 onto 0, 1 and 2 gives the child its own without the flag)
  const int err_fd = ::mkostemp(stderr_template, O_CLOEXEC);
  if (err_fd < 0) {
    why_ = fmt::format("cannot create a file for the peer's stderr: {}", std::strerror(errno));
    return;
  }
  stderr_path_ = stderr_template;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    why_ = fmt::format("cannot create pipes for {}: {}", path, std::strerror(errno));
    ::close(err_fd);
    return;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    why_ = fmt::format("cannot create pipes for {}: {}", path, std::strerror(errno));
    for (int fd : {in[0], in[1], err_fd}) ::close(fd);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  // the child gets SIGPIPE's default back (tide ignores it, below)
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &pipe_signal);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
  const std::string python = peer_python(options);
  std::vector<std::string> argv_strings = python_command(python);
  argv_strings.push_back(path);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, argv.front(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err_fd);
  to_peer_ = in[1];
  from_peer_ = out[0];
  if (rc != 0) {
    pid_ = -1;
    why_ = fmt::format("cannot start {} ({}): {} (bench/peers/setup.sh makes the peers' venv)", python, python_origin(options),
                       std::strerror(rc));
    return;
  }
  try {
    const nlohmann::json hello = nlohmann::json::parse(read_line());
    if (!hello.value("ok", false))
      why_ = fmt::format("{} {} ({}): {} (bench/peers/setup.sh makes the peers' venv)", python, script, python_origin(options),
                         hello.value("error", std::string("failed")));
    framework_ = hello.value("framework", std::string());
    versions_ = hello.value("versions", nlohmann::json::object());
  } catch (const std::exception& e) {
    why_ = fmt::format("{} {} ({}) did not start: {}", python, script, python_origin(options), e.what());
  }
}

Peer::~Peer() {
  if (pid_ > 0) {
    if (to_peer_ >= 0) {
      const std::string quit = "{\"cmd\": \"quit\"}\n";
      [[maybe_unused]] const ssize_t n = ::write(to_peer_, quit.data(), quit.size());
    }
    close_fd(to_peer_);
    close_fd(from_peer_);
    // a peer that is still busy (a request timed out) or stuck gets 2 s, then SIGTERM, then SIGKILL
    int status = 0;
    for (int signal_to_send : {0, SIGTERM, SIGKILL}) {
      if (signal_to_send) ::kill(pid_, signal_to_send);
      for (int i = 0; i < 40; ++i) {
        if (::waitpid(pid_, &status, WNOHANG) != 0) {
          pid_ = -1;
          break;
        }
        ::usleep(50000);
      }
      if (pid_ < 0) break;
    }
    if (pid_ > 0) ::waitpid(pid_, &status, 0);
  }
  close_fd(to_peer_);
  close_fd(from_peer_);
  if (!stderr_path_.empty()) std::remove(stderr_path_.c_str());
}

// What the peer wrote to stderr since the last request was sent (older lines belong to requests
// that were answered, and would mislead).
std::string Peer::stderr_tail() const {
  std::ifstream in(stderr_path_);
  in.seekg(static_cast<std::streamoff>(stderr_mark_));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const std::string what = stderr_mark_ == 0 ? "its stderr" : "its stderr since the request";
  if (text.find_first_not_of(" \n") == std::string::npos) return fmt::format(" (nothing on {})", what);
  return fmt::format("; {} ends:\n{}", what, text.size() > 600 ? "..." + text.substr(text.size() - 600) : text);
}

// How the peer ended, once its output closed: "exited with status 3", "was killed by signal 9
// (Killed)". It gets 2 s to finish dying; the child is then reaped (pid_ = -1).
std::string Peer::exit_status() {
  if (pid_ <= 0) return "is gone";
  int status = 0;
  for (int i = 0; i < 40; ++i) {
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || done < 0) {
      pid_ = -1;
      if (done < 0) return fmt::format("is gone ({})", std::strerror(errno));
      if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
      return fmt::format("exited with status {}", WEXITSTATUS(status));
    }
    ::usleep(50000);
  }
  return "closed its output but is still running";
}

std::string Peer::read_line() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  for (;;) {
    if (const auto nl = buffered_.find('\n'); nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) fail("no reply within {:.0f} s", timeout_);
    pollfd p{from_peer_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min(left, 3600.0) * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail("waiting for the peer: {}", std::strerror(errno));
    char chunk[4096];
    const ssize_t n = ready > 0 ? ::read(from_peer_, chunk, sizeof chunk) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (ready > 0 && n <= 0) fail("the peer {}{}", exit_status(), stderr_tail());
    if (n > 0) buffered_.append(chunk, static_cast<std::size_t>(n));
  }
}

nlohmann::json Peer::exchange(const nlohmann::json& request) {
  std::error_code ec;
  const std::uintmax_t written = fs::file_size(stderr_path_, ec);
  stderr_mark_ = ec ? 0 : written;
  const std::string line = request.dump() + "\n";
  if (::write(to_peer_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    const std::string why = std::strerror(errno);
    fail("the peer does not take requests ({}): it {}{}", why, exit_status(), stderr_tail());
  }
  return nlohmann::json::parse(read_line());
}

std::optional<PeerWorkload> Peer::prepare(const std::string& label, nlohmann::json request) {
  if (!available()) return std::nullopt;
  request["cmd"] = "prepare";
  const std::string what = fmt::format("{} {} {}", framework_, request.value("case", std::string()), label);
  try {
    nlohmann::json reply = exchange(request);
    if (!reply.value("ok", false)) {
      errors_.push_back(fmt::format("{}: {}", what, reply.value("error", std::string("failed"))));
      return std::nullopt;
    }
    auto last = std::make_shared<nlohmann::json>();
    const int handle = reply.value("handle", -1);
    // A failure while timing is reported, not thrown: the workload's later samples are NaN (medians
    // skip them), and a peer that is gone is asked nothing more.
    auto failed = std::make_shared<bool>(false);
    TimedCase timed = timed_by_callee([this, handle, last, failed, what](std::int64_t calls) -> double {
      if (*failed || !available()) return NAN;
      try {
        *last = exchange({{"cmd", "run"}, {"handle", handle}, {"calls", calls}});
        if (last->value("ok", false) && last->contains("seconds") && (*last)["seconds"].is_number())
          return (*last)["seconds"].get<double>();
        errors_.push_back(fmt::format("{} (timing): {}", what, last->value("error", std::string("no seconds in the reply"))));
      } catch (const std::exception& e) {
        why_ = fmt::format("{} (timing): {}", what, e.what());
        errors_.push_back(why_);
      }
      *failed = true;
      return NAN;
    });
    return PeerWorkload{label, std::move(reply), std::move(last), std::move(timed)};
  } catch (const std::exception& e) {
    why_ = fmt::format("{}: {}", what, e.what());  // the peer is gone: nothing more is asked of it
    errors_.push_back(why_);
    return std::nullopt;
  }
}

PeerFiles::PeerFiles() {
  char dir_template[] = "/tmp/tide-peers-XXXXXX";
  if (!::mkdtemp(dir_template)) fail("tide bench: cannot create a directory for the peers' files: {}", std::strerror(errno));
  dir_ = dir_template;
}

PeerFiles::~PeerFiles() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PeerFiles::write(const std::string& name, const Archive& tensors) const {
  const std::string path = (fs::path(dir_) / (name + ".safetensors")).string();
  save_safetensors(path, tensors);
  return path;
}

}  // namespace tide::cli
