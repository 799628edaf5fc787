// JsonFields: typed, validating access to the fields of one JSON object.
//
// Contract
//  1. Each getter returns InvalidArgument naming `what` and the field when it
//     is missing (required getters) or has the wrong type. Never throws.
//  2. Every field asked for is remembered; NoOtherFields() then rejects the
//     first field nobody asked for, so a typo in a request is an error rather
//     than silently ignored.
//  3. Holds a reference: the Json must outlive the JsonFields.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera {

class JsonFields {
 public:
  // InvalidArgument unless `json` is an object.
  static Result<JsonFields> Of(const nlohmann::json& json, std::string_view what);

  Result<std::string> String(std::string_view key);
  Result<uint64_t> Unsigned(std::string_view key);
  Result<bool> Bool(std::string_view key);
  // The field itself (any type); for arrays and nested objects.
  Result<const nlohmann::json*> Array(std::string_view key);
  Result<const nlohmann::json*> Object(std::string_view key);

  Result<std::optional<std::string>> OptionalString(std::string_view key);
  Result<std::optional<uint64_t>> OptionalUnsigned(std::string_view key);
  Result<std::optional<bool>> OptionalBool(std::string_view key);
  // An array whose every entry is a string.
  Result<std::vector<std::string>> Strings(std::string_view key);

  // Whether the object has the field (does not count as asking for it).
  bool Has(std::string_view key) const { return json_.find(key) != json_.end(); }
  const std::string& what() const { return what_; }

  Status NoOtherFields() const;
  // The error of a required field that is absent.
  std::unexpected<Error> Missing(std::string_view key) const;

 private:
  JsonFields(const nlohmann::json& json, std::string_view what) : json_(json), what_(what) {}
  // The field, or nullptr when absent; marks it as asked for.
  const nlohmann::json* Find(std::string_view key);
  std::unexpected<Error> WrongType(std::string_view key, std::string_view expected) const;

  const nlohmann::json& json_;
  std::string what_;
  std::set<std::string, std::less<>> asked_;
};

}  // namespace tessera
