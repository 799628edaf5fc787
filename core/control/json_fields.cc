#include "core/control/json_fields.h"

namespace tessera {

using Json = nlohmann::json;

Result<JsonFields> JsonFields::Of(const Json& json, std::string_view what) {
  if (!json.is_object()) {
    return Err(Code::kInvalidArgument, "{}: expected a JSON object, got {}", what,
               json.type_name());
  }
  return JsonFields(json, what);
}

const Json* JsonFields::Find(std::string_view key) {
  asked_.emplace(key);
  auto it = json_.find(key);
  return it == json_.end() ? nullptr : &*it;
}

std::unexpected<Error> JsonFields::Missing(std::string_view key) const {
  return Err(Code::kInvalidArgument, "{}: missing field '{}'", what_, key);
}

std::unexpected<Error> JsonFields::WrongType(std::string_view key,
                                             std::string_view expected) const {
  return Err(Code::kInvalidArgument, "{}: field '{}' must be {}", what_, key, expected);
}

Result<std::optional<std::string>> JsonFields::OptionalString(std::string_view key) {
  const Json* field = Find(key);
  if (!field) return std::nullopt;
  if (!field->is_string()) return WrongType(key, "a string");
  return field->get<std::string>();
}

Result<std::optional<uint64_t>> JsonFields::OptionalUnsigned(std::string_view key) {
  const Json* field = Find(key);
  if (!field) return std::nullopt;
  // Parsed text gives number_unsigned for non-negative integers; a Json
  // built in C++ from a signed int gives number_integer. Negatives and
  // fractions are refused.
  if (field->is_number_unsigned()) return field->get<uint64_t>();
  if (field->is_number_integer() && field->get<int64_t>() >= 0) {
    return static_cast<uint64_t>(field->get<int64_t>());
  }
  return WrongType(key, "an unsigned integer");
}

Result<std::optional<bool>> JsonFields::OptionalBool(std::string_view key) {
  const Json* field = Find(key);
  if (!field) return std::nullopt;
  if (!field->is_boolean()) return WrongType(key, "true or false");
  return field->get<bool>();
}

Result<std::string> JsonFields::String(std::string_view key) {
  auto value = TRY(OptionalString(key));
  if (!value) return Missing(key);
  return std::move(*value);
}

Result<uint64_t> JsonFields::Unsigned(std::string_view key) {
  auto value = TRY(OptionalUnsigned(key));
  if (!value) return Missing(key);
  return *value;
}

Result<bool> JsonFields::Bool(std::string_view key) {
  auto value = TRY(OptionalBool(key));
  if (!value) return Missing(key);
  return *value;
}

Result<const Json*> JsonFields::Array(std::string_view key) {
  const Json* field = Find(key);
  if (!field) return Missing(key);
  if (!field->is_array()) return WrongType(key, "an array");
  return field;
}

Result<const Json*> JsonFields::Object(std::string_view key) {
  const Json* field = Find(key);
  if (!field) return Missing(key);
  if (!field->is_object()) return WrongType(key, "an object");
  return field;
}

Result<std::vector<std::string>> JsonFields::Strings(std::string_view key) {
  const Json* array = TRY(Array(key));
  std::vector<std::string> out;
  for (const Json& item : *array) {
    if (!item.is_string()) return Err(Code::kInvalidArgument, "{}: every entry must be a string", key);
    out.push_back(item.get<std::string>());
  }
  return out;
}

Status JsonFields::NoOtherFields() const {
  for (const auto& [key, value] : json_.items()) {
    if (!asked_.contains(key)) {
      return Err(Code::kInvalidArgument, "{}: unknown field '{}'", what_, key);
    }
  }
  return Ok();
}

}  // namespace tessera
