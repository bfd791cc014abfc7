// PhysioNet archives (tar, gzipped or plain, of "<RecordID>.txt" members in the challenge's
// Time,Parameter,Value format): the bytes are written to a file that read_physionet reads. A set
// that loads is consistent (validate); any failure is a tide::Error naming the file.
#include "fuzz_util.hpp"
#include "tide/data/irregular.hpp"

using namespace tide;
using namespace tide::data;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::TempFile file("physionet", ".tar");
  const std::string& path = file.write({reinterpret_cast<const char*>(data), size});
  fuzz::succeeds_or_names(path, [&] {
    PhysionetOptions o;
    o.quantisation = size % 2 ? 0.0 : 0.1;  // exact minutes or the paper's rounding
    read_physionet({path}, {}, o).set.validate();
  });
  return 0;
}
