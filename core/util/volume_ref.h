// VolumeRef: a volume's name, or VOLUME@SNAPSHOT for one of its snapshots.
// The one place the '@' form is parsed and written (the CLI's arguments,
// export names).
#pragma once

#include <string>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

struct VolumeRef {
  std::string volume;
  std::string snapshot;  // empty: the live volume

  bool IsSnapshot() const { return !snapshot.empty(); }
  // "vol" or "vol@snap".
  std::string ToString() const;

  bool operator==(const VolumeRef&) const = default;
};

// "vol" or "vol@snap". InvalidArgument on an empty name, an empty side of
// the '@' ("vol@", "@snap") or more than one '@' ("a@b@c").
Result<VolumeRef> ParseVolumeRef(std::string_view text);
// As ParseVolumeRef, and InvalidArgument unless the text names a snapshot.
Result<VolumeRef> ParseSnapshotRef(std::string_view text);
// The volume part of "vol" or "vol@snap" (all of it without an '@'), for
// names checked already, such as those of open volumes.
std::string_view VolumeOf(std::string_view name);

}  // namespace tessera
