// Fuzz target: the diff-stream reader (core/volume/diff_stream.h).
//
// The input is read twice through DiffStreamReader: as it is, and rebuilt
// the way a writer would seal it: the 1024-byte header with its checksum
// recomputed, then records taken from the input (a 32-byte record header,
// then for a data record as many data bytes as it claims), each with its
// checksum recomputed; an end record gets the chained total. A stream that
// reads to its end record must have records in order inside the volume.
#include <cstdio>
#include <vector>

#include "core/util/units.h"
#include "core/volume/diff_stream.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {

void ReadStream(std::vector<std::byte>& bytes) {
  if (bytes.empty()) return;
  std::FILE* f = fmemopen(bytes.data(), bytes.size(), "rb");
  if (f == nullptr) return;
  DiffStreamReader reader(f, "fuzz stream");
  auto header = reader.ReadHeader();
  if (header) {
    uint64_t next = 0;
    for (;;) {
      auto r = reader.Next();
      if (!r || r->type == DiffRecordType::kEnd) break;
      FUZZ_CHECK(r->offset >= next && r->length > 0 && r->offset + r->length <= header->volume_size);
      FUZZ_CHECK(r->type != DiffRecordType::kData || r->data.size() == r->length);
      next = r->offset + r->length;
    }
  }
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (4u << 20)) return 0;
  std::vector<std::byte> raw(reinterpret_cast<const std::byte*>(data),
                             reinterpret_cast<const std::byte*>(data) + size);
  ReadStream(raw);

  fuzz::FuzzInput in(data, size);
  std::vector<std::byte> stream(kDiffHeaderBytes);
  fuzz::FillBlock(in.Take(kDiffHeaderBytes), stream);
  fuzz::SealBlock(stream, kDiffHeaderBytes - 8);
  (void)DecodeDiffHeader(stream);
  uint64_t total = GetU64(stream.data() + kDiffHeaderBytes - 8);
  while (in.left() > 0) {
    std::byte rh[kDiffRecordHeaderBytes];
    fuzz::FillBlock(in.Take(kDiffRecordHeaderBytes), rh);
    uint32_t type = GetU32(rh);
    std::span<const uint8_t> payload;
    if (type == static_cast<uint32_t>(DiffRecordType::kData)) {
      payload = in.Take(std::min<uint64_t>(GetU64(rh + 16), kDiffMaxDataRecord));
    }
    if (type == static_cast<uint32_t>(DiffRecordType::kEnd)) PutU64(rh + 16, total);
    uint64_t sum = Checksum64(payload.data(), payload.size(), Checksum64(rh, 24));
    PutU64(rh + 24, sum);
    stream.insert(stream.end(), rh, rh + sizeof(rh));
    auto p = std::as_bytes(payload);
    stream.insert(stream.end(), p.begin(), p.end());
    if (type == static_cast<uint32_t>(DiffRecordType::kEnd)) break;
    std::byte le[8];
    PutU64(le, sum);
    total = Checksum64(le, 8, total);
  }
  ReadStream(stream);
  return 0;
}
