// Control request dispatch: find the op in the registry (op_table.h), which
// decodes, calls one PoolApi method and encodes.
//
// Design notes
//  1. Each op decodes all of its arguments and rejects unknown fields before
//     it calls the PoolApi, so a bad request changes nothing (op_table.h
//     contract 2).
//  2. No storage logic lives here or in the ops: one op is one PoolApi call.
#include "core/control/dispatch.h"

#include <exception>

#include "core/control/json_fields.h"
#include "core/control/op_table.h"

namespace tessera {
namespace {

Result<Json> Dispatch(PoolApi& pool, const Json& request, const ProgressFn& progress,
                      int passed_fd) {
  JsonFields fields = TRY(JsonFields::Of(request, "request"));
  std::string op = TRY(fields.String("op"));
  const OpEntry* entry = FindControlOp(op);
  if (!entry) return std::unexpected(UnknownOpError(op));
  return entry->dispatch(pool, fields, OpCall(op, progress, passed_fd));
}

}  // namespace

Json DispatchRequest(PoolApi& pool, const Json& request, const ProgressFn& progress,
                     int passed_fd) {
  try {
    Result<Json> result = Dispatch(pool, request, progress, passed_fd);
    return result ? OkResponse(std::move(*result)) : ErrorResponse(result.error());
  } catch (const std::exception& e) {
    return ErrorResponse(
        Error(Code::kIOError, fmt::format("control: internal error: {}", e.what())));
  }
}

std::string HandleRequestLine(PoolApi& pool, std::string_view line, const ProgressFn& progress,
                              int passed_fd) {
  try {
    Result<Json> request = ParseLine(line);
    Json response =
        request ? DispatchRequest(pool, *request, progress, passed_fd) : ErrorResponse(request.error());
    return EncodeLine(response);
  } catch (const std::exception& e) {
    return EncodeLine(
        ErrorResponse(Error(Code::kIOError, fmt::format("control: internal error: {}", e.what()))));
  }
}

}  // namespace tessera
