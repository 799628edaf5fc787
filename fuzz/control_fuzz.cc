// Fuzz target: control-protocol request decoding (core/control/protocol.h,
// dispatch.h) and the decoders of the response objects the CLI reads.
//
// The input is one request line. It goes through ParseLine and
// DispatchRequest against a real Storage over two memory vdevs (pool.conf
// in a scratch directory), so every op decodes its fields the way the
// server does; an op that decodes then runs. diff.stream and diff.apply get
// a descriptor of one scratch stream file, as a client passes it (so an
// apply reads what the last diff.stream wrote). Fields that name files the
// server creates ("new_path" of vdev.replace; "path" of older requests) are
// pointed into the scratch directory first, so a run never touches other
// files. The Storage is made anew every
// kResetEvery inputs, which keeps its volumes few.
// Checks: every request gets exactly one well-formed response line
// (contract 1 of dispatch.h), and the value decoders never throw.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "core/control/dispatch.h"
#include "core/control/ops.h"
#include "core/control/protocol.h"
#include "core/control/protocol_repair.h"
#include "core/vdev/memory_vdev.h"
#include "core/volume/storage.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

constexpr int kResetEvery = 2000;
constexpr uint64_t kVdevBytes = 32ull << 20;

struct Scratch {
  std::string dir;
  std::unique_ptr<Storage> storage;
  int inputs = 0;

  ~Scratch() {
    if (storage) (void)storage->Close();
    storage.reset();
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }

  Storage& Get() {
    if (storage && ++inputs % kResetEvery != 0) return *storage;
    if (storage) (void)storage->Close();
    storage.reset();
    if (dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/tessera-fuzz-control-XXXXXX";
      if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
      dir = tmpl;
    }
    std::error_code ec;
    fs::remove_all(dir + "/pool", ec);
    auto devices = std::make_shared<std::vector<std::shared_ptr<Vdev>>>();
    StorageOptions options{.metadata_cache_bytes = 16u << 20, .data_cache_bytes = 4u << 20,
                           .dirty_bytes_max = 1u << 20, .use_io_uring = false, .use_direct = false};
    options.open_devices = [devices](const PoolConfig& config,
                                     bool create) -> Result<std::vector<std::shared_ptr<Vdev>>> {
      if (create && !devices->empty()) {  // vdev.add, vdev.replace: new devices, never the pool's
        std::vector<std::shared_ptr<Vdev>> fresh;
        for (size_t i = 0; i < config.vdevs.size(); i++) {
          fresh.push_back(std::make_shared<MemoryVdev>(BlockCount{kVdevBytes / kBlockSize}));
        }
        return fresh;
      }
      while (devices->size() < config.vdevs.size()) {
        devices->push_back(std::make_shared<MemoryVdev>(BlockCount{kVdevBytes / kBlockSize}));
      }
      return std::vector<std::shared_ptr<Vdev>>(devices->begin(), devices->begin() + config.vdevs.size());
    };
    auto created = Storage::Create(dir + "/pool", Storage::DefaultConfig(dir + "/pool", 2, kVdevBytes), options);
    if (!created) {
      std::fprintf(stderr, "control fuzz: %s\n", created.error().ToString().c_str());
      std::abort();
    }
    storage = std::move(*created);
    return *storage;
  }
};

// Points the string "path" and "new_path" fields into the scratch
// directory (requests are flat objects: JsonFields reads the top level).
void ConfinePaths(Json& json, const std::string& dir) {
  for (const char* key : {"path", "new_path"}) {
    if (json.contains(key) && json[key].is_string()) json[key] = dir + "/file-" + key;
  }
}

void CheckResponse(const Json& response) {
  FUZZ_CHECK(response.is_object() && response.contains("ok") && response["ok"].is_boolean());
  std::string line = EncodeLine(response);
  FUZZ_CHECK(line.find('\n') == std::string::npos);
  auto again = ParseLine(line);
  FUZZ_CHECK(again.has_value());
  (void)ResultFromResponse(*again);
}

// The decoders of values the CLI reads from responses: none may throw.
void DecodeValues(const Json& json) {
  (void)ResultFromResponse(json);
  (void)FromJson<VolumeInfo>(json);
  (void)ListFromJson<VolumeInfo>(json);
  (void)FromJson<VdevStatus>(json);
  (void)FromJson<PoolStatus>(json);
  (void)FromJson<CheckReport>(json);
  (void)ListFromJson<SnapshotInfo>(json);
  (void)StringFromJson(json);
  (void)FromJson<VolumeDiff>(json);
  (void)FromJson<DiffStreamInfo>(json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxRequestLine) return 0;
  static Scratch scratch;
  Storage& storage = scratch.Get();
  std::string_view line = fuzz::AsText({data, size});
  auto request = ParseLine(line);
  if (!request) {
    std::string response = HandleRequestLine(storage, line);
    auto parsed = ParseLine(response);
    FUZZ_CHECK(parsed && !(*parsed)["ok"].get<bool>());
    return 0;
  }
  DecodeValues(*request);
  if (request->contains("result")) DecodeValues((*request)["result"]);
  ConfinePaths(*request, scratch.dir);
  std::string op;
  if (request->contains("op") && (*request)["op"].is_string()) op = (*request)["op"].get<std::string>();
  int fd = -1;
  std::string stream = scratch.dir + "/stream";
  if (op == ops::DiffStream::kName) fd = ::open(stream.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (op == ops::DiffApply::kName) fd = ::open(stream.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  CheckResponse(DispatchRequest(storage, *request, [](const Progress&) {}, fd));
  if (fd >= 0) ::close(fd);
  return 0;
}
