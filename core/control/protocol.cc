// JSON forms of the control protocol.
//
// Design notes
//  1. Requests are decoded strictly (op_table.h rejects unknown fields);
//     value types in responses are decoded leniently: a newer server may add
//     fields, and an older client ignores them.
//  2. Nothing here throws: parsing uses nlohmann's non-throwing parse, field
//     access goes through JsonFields, and dumping replaces invalid UTF-8.
#include "core/control/protocol.h"

#include "core/control/codes.h"
#include "core/control/json_fields.h"

namespace tessera {

Json OkResponse(Json result) {
  Json response = Json::object();
  response["ok"] = true;
  response["result"] = std::move(result);
  return response;
}

Json ErrorResponse(const Error& error) {
  Json response = Json::object();
  response["ok"] = false;
  response["code"] = std::string(CodeName(error.code()));
  response["error"] = error.message();
  return response;
}

Result<Json> ResultFromResponse(const Json& response) {
  auto malformed = [](const Error& e) {
    return Err(Code::kIOError, "control: malformed response from the server: {}", e.message());
  };
  auto fields = JsonFields::Of(response, "response");
  if (!fields) return malformed(fields.error());
  auto ok = fields->Bool("ok");
  if (!ok) return malformed(ok.error());
  if (*ok) {
    auto it = response.find("result");
    return it == response.end() ? Json() : *it;
  }
  auto code_name = fields->String("code");
  if (!code_name) return malformed(code_name.error());
  auto message = fields->String("error");
  if (!message) return malformed(message.error());
  std::optional<Code> code = CodeFromName(*code_name);
  if (!code) return Err(Code::kIOError, "{} (unknown error code '{}')", *message, *code_name);
  return std::unexpected(Error(*code, *message));
}

Result<std::string> StringFromJson(const Json& json) {
  if (!json.is_string()) return Err(Code::kInvalidArgument, "expected a string result");
  return json.get<std::string>();
}

std::string EncodeLine(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Json> ParseLine(std::string_view line) {
  Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Err(Code::kInvalidArgument, "line is not valid JSON");
  if (!json.is_object()) {
    return Err(Code::kInvalidArgument, "expected a JSON object, got {}", json.type_name());
  }
  return json;
}

}  // namespace tessera
