// StripeReader: reads, classifies and (when asked) rebuilds the chunks of one
// stripe of a JerasureSegment. Internal to the jerasure segment (reads and
// Inspect); not thread-safe: one per stripe access, under the stripe's lock.
//
// A chunk's state after loading it:
//
//   kUnread --Load--> kIoError     the device refused (IOError)
//                     kZero        all-zero header: never written
//                     kForeign     no chunk magic, or another segment's chunk
//                     kCorrupt     header checksum / version / counts wrong
//                     kMisplaced   this segment's chunk, but another stripe,
//                                  index or geometry
//                     kBadData     header fine, data checksum wrong
//                     kHeaderOk    header fine, data not read (header-only load)
//                     kGood        header and data fine
//
// Judge() groups the kGood (or, without data, also kHeaderOk) chunks by write
// (generation + checksum array, ChunkHeader::SameWrite) and decides:
//   kWritten       some write is agreed by >= K chunks (the newest such);
//                  every other chunk is bad (missing, corrupt or stale);
//   kNeverWritten  no such write, and >= K chunks are kZero or kForeign;
//   kLost          neither: more than M chunks are gone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/segment/jerasure_segment.h"

namespace tessera {

enum class ChunkState : uint8_t {
  kUnread,
  kIoError,
  kZero,
  kForeign,
  kCorrupt,
  kMisplaced,
  kBadData,
  kHeaderOk,
  kGood,
};

std::string_view ChunkStateName(ChunkState state);

struct StripeVerdict {
  enum Kind { kWritten, kNeverWritten, kLost } kind = kLost;
  std::vector<uint32_t> members;  // kWritten: the chunks of the chosen write;
                                  // kLost: of the write agreed by most chunks
  std::vector<uint32_t> bad;      // kWritten: every other chunk
  int header_of = -1;             // kWritten: a member, whose header describes the write
};

class StripeReader {
 public:
  // `buffer` holds N * C bytes; chunk j is read to buffer + Position(j) * C.
  StripeReader(JerasureSegment& segment, uint64_t stripe, std::byte* buffer);

  // Reads chunk j: its header block only, or all of it. Does nothing if the
  // chunk was already read at least that far. A device IOError becomes
  // kIoError, which is final for this reader (the chunk is rebuilt, not
  // read again); any other error is returned.
  Status Load(uint32_t j, bool full);
  Status LoadAll(bool full);
  // Reads chunk j's header block into the buffer and its data into `data`
  // (D bytes, 16-byte aligned, e.g. the caller's output), and checks both.
  // From then on Data(j) is `data`: a rebuild of chunk j writes there.
  Status LoadInto(uint32_t j, std::byte* data);

  // True when every data chunk is kGood or kHeaderOk, those in
  // [first, last] are kGood, and all K agree on one write (the fast path:
  // with K > M no other write can be agreed by K chunks).
  bool DataAgrees(uint32_t first, uint32_t last) const;
  StripeVerdict Judge(bool need_data) const;
  // After LoadAll(true): Judge, then rebuild every bad chunk of a kWritten
  // stripe (data, parity and header) in the buffer and check each against
  // its checksum. IOError for kLost, Corruption when a rebuilt chunk does
  // not match. Counts the bad chunks in the segment's stats.
  Result<StripeVerdict> Rebuild();
  // Writes the rebuilt chunks (header and Data()) back in place; counts
  // successes and failures. Returns the number of chunks rewritten.
  uint64_t Repair(const StripeVerdict& verdict);

  ChunkState state(uint32_t j) const { return state_[j]; }
  const ChunkHeader& header(uint32_t j) const { return headers_[j]; }
  std::byte* Chunk(uint32_t j) const;  // the header block
  // Chunk j's D data bytes: after the header in the buffer, or where
  // LoadInto put them.
  std::byte* Data(uint32_t j) const { return data_[j]; }
  // "stripe 7 chunk 2 (fastest:3:1234 on v3)" for messages.
  std::string Describe(uint32_t j) const;

 private:
  // `data`: where chunk j's data was read, or null for a header-only load.
  void Classify(uint32_t j, const std::byte* data);

  JerasureSegment& seg_;
  const JerasureGeometry& geo_;
  const uint64_t stripe_;
  std::byte* const buffer_;
  std::vector<ChunkState> state_;
  std::vector<bool> full_;        // the data was read (or the chunk failed)
  std::vector<std::byte*> data_;  // see Data()
  std::vector<ChunkHeader> headers_;
  std::string first_io_error_;  // the device's message for the first kIoError chunk
};

}  // namespace tessera
