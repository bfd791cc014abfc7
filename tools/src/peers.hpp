// Peers in the same run (`tide bench ... --peers`): a Python peer script (bench/peers/*_peers.py,
// speaking bench/peers/peer_protocol.py's line protocol) runs as a child process; tide writes each
// workload's weights and inputs to a safetensors file, the peer builds the same workload from it,
// and the peer's samples are taken round-robin with tide's own (timing.hpp), so both sides see the
// same machine conditions. The peers' virtual environment is optional: without it the bench says
// why and prints tide's side alone.
#pragma once
#include "timing.hpp"
#include "tide/autodiff/archive.hpp"
#include <nlohmann/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tide::cli {

struct PeerOptions {
  bool enabled = false;
  std::string python;  // "": $TIDE_PEERS_PYTHON, else <repository>/.venv/bin/python, else python3
  std::string dir;     // "": bench/peers next to the repository the executable was built in, else ./bench/peers
  double timeout_seconds = 600;  // per request (JAX compiles in the first call)
};

// The interpreter and script directory `options` resolve to (see PeerOptions).
std::string peer_python(const PeerOptions& options);
std::string peer_dir(const PeerOptions& options);

// A --python value (or $TIDE_PEERS_PYTHON) as the words that start the interpreter, read the same
// way by `tide bench gpu` and the --peers suites: one word when it names an existing file (a path
// with spaces), else split on whitespace, so a wrapper works ("uv run python").
std::vector<std::string> python_command(const std::string& value);
// `words` as one line for the shell (popen): each in single quotes, a ' inside written '\''.
std::string shell_line(const std::vector<std::string>& words);

class Peer;

// One prepared workload on a peer: the prepare reply (first_seconds, check, nfe, ...) and a
// TimedCase whose samples are the peer's own seconds per call.
struct PeerWorkload {
  std::string label;       // "torchdiffeq", "diffrax (vmap)", ...
  nlohmann::json first;    // the prepare reply
  std::shared_ptr<nlohmann::json> last;  // the last run reply (per-call figures averaged over its calls)
  TimedCase timed;
  double figure(const std::string& key) const;  // from the last run, else the first; NaN if absent
};

class Peer {
public:
  // Starts `python dir/script args...` and reads its greeting. A peer that cannot start (no
  // interpreter, a missing package) is not an error: available() is false and why() says why.
  Peer(const PeerOptions& options, const std::string& script, const std::vector<std::string>& args);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  bool available() const { return pid_ > 0 && why_.empty(); }
  const std::string& why() const { return why_; }
  const nlohmann::json& versions() const { return versions_; }
  const std::string& framework() const { return framework_; }

  // Sends `request` ({"cmd": "prepare", ...}) and wraps the reply. nullopt when the peer refused
  // or failed; the reason is appended to errors() (and the peer stays usable).
  std::optional<PeerWorkload> prepare(const std::string& label, nlohmann::json request);
  const std::vector<std::string>& errors() const { return errors_; }

private:
  nlohmann::json exchange(const nlohmann::json& request);  // throws tide::Error when the peer is gone
  std::string read_line();
  std::string stderr_tail() const;
  std::string exit_status();  // reaps a peer whose output closed

  int pid_ = -1, to_peer_ = -1, from_peer_ = -1;
  std::uintmax_t stderr_mark_ = 0;  // the stderr file's size when the last request was sent
  double timeout_ = 600;
  std::string buffered_, stderr_path_, why_, framework_;
  nlohmann::json versions_;
  std::vector<std::string> errors_;
};

// A directory for the workload files, removed with the object.
class PeerFiles {
public:
  PeerFiles();
  ~PeerFiles();
  PeerFiles(const PeerFiles&) = delete;
  PeerFiles& operator=(const PeerFiles&) = delete;
  // Writes `tensors` as <dir>/<name>.safetensors and returns the path.
  std::string write(const std::string& name, const Archive& tensors) const;
  const std::string& dir() const { return dir_; }

private:
  std::string dir_;
};

}  // namespace tide::cli
