// What a device holds (device_contents.h).
//
// Design notes
//  1. libblkid, not the blkid or wipefs tool: it answers with values (the
//     TYPE, USAGE and PTTYPE of each signature), not text to parse. It
//     opens `path` read-only and without O_EXCL, which the caller's
//     exclusive open of the same device allows.
//  2. blkid_do_probe is called until it finds nothing more: it reports one
//     signature a call, over every prober of the superblock and partition
//     chains, as wipefs lists them. blkid_do_safeprobe would stop at the
//     first chain that finds something, or call two filesystems ambivalent
//     and name neither.
//  3. The Tessera label is looked for first and through the Vdev, since
//     libblkid does not know it.
#include "core/pool/device_contents.h"

#include <blkid.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/pool/label.h"
#include "core/util/aligned_buffer.h"
#include "core/util/uuid.h"

namespace tessera {
namespace {

std::string WithArticle(const std::string& phrase) {
  char first = static_cast<char>(std::tolower(static_cast<unsigned char>(phrase.empty() ? ' ' : phrase[0])));
  return (std::strchr("aeiox", first) != nullptr && first != '\0' ? "an " : "a ") + phrase;
}

// One signature libblkid found, as a phrase.
std::string Describe(const char* type, const char* usage) {
  std::string kind = usage == nullptr ? "" : usage;
  if (kind == "filesystem") return WithArticle(fmt::format("{} filesystem", type));
  if (kind == "raid") return WithArticle(fmt::format("{} member (RAID or volume manager)", type));
  if (kind == "crypto") return WithArticle(fmt::format("{} encrypted volume", type));
  return WithArticle(fmt::format("{} signature", type));
}

struct FreeProbe {
  void operator()(blkid_probe probe) const { blkid_free_probe(probe); }
};

// Design notes 1 and 2.
Result<std::vector<std::string>> BlkidSignatures(const std::string& path) {
  std::unique_ptr<std::remove_pointer_t<blkid_probe>, FreeProbe> probe(
      blkid_new_probe_from_filename(path.c_str()));
  if (!probe) return Err(Code::kIOError, "libblkid cannot probe {}: {}", path, std::strerror(errno));
  blkid_probe p = probe.get();
  if (blkid_probe_enable_superblocks(p, 1) != 0 ||
      blkid_probe_set_superblocks_flags(p, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE) != 0 ||
      blkid_probe_enable_partitions(p, 1) != 0 || blkid_probe_set_partitions_flags(p, BLKID_PARTS_MAGIC) != 0) {
    return Err(Code::kIOError, "libblkid cannot set up a probe of {}", path);
  }
  std::vector<std::string> found;
  int rc = 0;
  while ((rc = blkid_do_probe(p)) == 0) {
    const char* type = nullptr;
    const char* usage = nullptr;
    std::string phrase;
    if (blkid_probe_lookup_value(p, "TYPE", &type, nullptr) == 0) {
      if (blkid_probe_lookup_value(p, "USAGE", &usage, nullptr) != 0) usage = nullptr;
      phrase = Describe(type, usage);
    } else if (blkid_probe_lookup_value(p, "PTTYPE", &type, nullptr) == 0) {
      phrase = WithArticle(fmt::format("{} partition table", type));
    } else {
      continue;
    }
    if (std::find(found.begin(), found.end(), phrase) == found.end()) found.push_back(phrase);
  }
  if (rc < 0) return Err(Code::kIOError, "libblkid could not probe {}", path);
  return found;
}

}  // namespace

Result<std::vector<std::string>> DeviceContents(Vdev& device, const std::string& path) {
  std::vector<std::string> found;
  const uint64_t blocks = device.Size().value;
  AlignedBuffer block(kBlockSize);
  for (uint64_t where : {uint64_t{0}, blocks - 1}) {  // design note 3
    if (blocks == 0) break;
    TRY_STATUS(device.Read(BlockNo{where}, block.span()));
    if (auto label = DecodeLabel(block.span())) {
      found.push_back(fmt::format("a Tessera vdev label of pool {} (vdev '{}')", UuidToString(label->pool_uuid),
                                  label->name));
      break;
    }
  }
  for (std::string& signature : TRY(BlkidSignatures(path))) found.push_back(std::move(signature));
  return found;
}

void ClearLabels(Vdev& device) {
  const uint64_t blocks = device.Size().value;
  if (blocks == 0) return;
  AlignedBuffer block(kBlockSize);
  const std::vector<std::byte> zeros(kBlockSize);
  for (uint64_t where : {uint64_t{0}, blocks - 1}) {
    if (device.Read(BlockNo{where}, block.span()) && DecodeLabel(block.span())) {
      (void)device.Write(BlockNo{where}, zeros);
    }
  }
  (void)device.Flush();
}

}  // namespace tessera
