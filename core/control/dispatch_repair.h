// Dispatch of the self-healing ops (protocol_repair.h). Internal to
// core/control: dispatch.cc routes these ops here.
#pragma once

#include <string_view>

#include "core/control/json_fields.h"
#include "core/control/protocol_repair.h"

namespace tessera {

bool IsRepairOp(std::string_view op);
// Decodes the op's arguments (rejecting unknown fields), calls one Storage
// method, encodes its result. `progress` is used only when the request asks.
Result<Json> DispatchRepairOp(Storage& storage, std::string_view op, JsonFields& fields,
                              const ProgressFn& progress);

}  // namespace tessera
